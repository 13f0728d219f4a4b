"""interfaces layer of dagwell."""
