"""storage.metadata layer of dagwell."""
