"""storage layer of dagwell."""
