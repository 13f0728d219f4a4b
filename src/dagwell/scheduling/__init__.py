"""scheduling layer of dagwell."""
