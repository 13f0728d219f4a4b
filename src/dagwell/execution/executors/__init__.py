"""Where task calls run: the Executor protocol, its implementations, and ``make_executor``."""

from __future__ import annotations

from collections.abc import Callable

from dagwell.errors import DefinitionError
from dagwell.execution.executors.base import Executor
from dagwell.execution.executors.inline import InlineExecutor
from dagwell.execution.executors.process import ProcessExecutor

# Name -> factory taking the number of workers. Optional backends import lazily in theirs.
_FACTORIES: dict[str, Callable[[int], Executor]] = {
    "inline": lambda workers: InlineExecutor(),
    "process": ProcessExecutor,
}


def make_executor(name: str, workers: int) -> Executor:
    """Build the executor called ``name`` ("inline" or "process") with ``workers`` workers.

    The inline executor ignores ``workers`` (it always has 1). An unknown name raises
    :class:`~dagwell.errors.DefinitionError` listing the valid ones.

    Example::

        executor = make_executor("process", workers=4)
        try:
            print(executor.submit(os.getpid).result())
        finally:
            executor.shutdown()
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        choices = ", ".join(repr(choice) for choice in sorted(_FACTORIES))
        raise DefinitionError(f"unknown executor {name!r}; choose one of {choices}") from None
    return factory(workers)


__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "make_executor"]
