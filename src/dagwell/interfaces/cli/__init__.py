"""interfaces.cli layer of dagwell."""
