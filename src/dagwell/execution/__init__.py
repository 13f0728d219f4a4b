"""execution layer of dagwell."""
