"""core layer of dagwell."""
