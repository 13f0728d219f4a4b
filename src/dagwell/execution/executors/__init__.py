"""execution.executors layer of dagwell."""
