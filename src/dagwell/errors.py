"""The whole exception tree of dagwell, grouped by who has to act.

DagwellError
├── DefinitionError (ValueError)        the user's pipeline or task definition is wrong
│   ├── CycleError                      the graph has a cycle
│   ├── ParamError                      an unknown, missing or mistyped pipeline param
│   ├── PipelineLoadError               a pipeline file cannot be loaded or is ambiguous
│   └── RunStateError                   the run's state forbids the action (resume a success)
├── TaskError                           a task attempt failed (user code, timeout, crash)
│   ├── TaskTimeoutError                the attempt ran longer than its timeout
│   ├── WorkerDiedError                 the worker process running the attempt died
│   └── SerializationError              an output could not be stored
├── StorageError                        the metadata database or artifact store failed
└── NotFoundError (LookupError)         a run, node or artifact does not exist
"""

from __future__ import annotations


class DagwellError(Exception):
    """Root of every error dagwell raises on purpose."""


class DefinitionError(DagwellError, ValueError):
    """The pipeline or task definition is wrong; the message says how to fix it."""


class CycleError(DefinitionError):
    """The pipeline graph has a cycle."""


class ParamError(DefinitionError):
    """A pipeline param is unknown, missing, or has a value of the wrong type."""


class PipelineLoadError(DefinitionError):
    """A pipeline file cannot be imported, or holds zero or several pipelines."""


class RunStateError(DefinitionError):
    """The run is in a state that does not allow what was asked (resuming a run that
    succeeded or is still running); the message says what would."""


class TaskError(DagwellError):
    """A task attempt failed. The user's exception, if any, is the ``__cause__``."""


class TaskTimeoutError(TaskError):
    """A task attempt ran longer than the task's ``timeout`` and was killed."""


class WorkerDiedError(TaskError):
    """The worker process running an attempt exited before reporting a result."""


class SerializationError(TaskError):
    """A task output could not be serialized into the artifact store."""


class StorageError(DagwellError):
    """The metadata database or the artifact store is unavailable or inconsistent."""


class NotFoundError(DagwellError, LookupError):
    """A run, node, or artifact does not exist."""
