"""dagwell: ML pipelines as DAGs of Python tasks."""
