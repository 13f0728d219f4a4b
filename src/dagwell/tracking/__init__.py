"""tracking layer of dagwell."""
