"""Where task calls run: the Executor protocol, its implementations, and ``make_executor``.

The Dask executor lives in ``dask.py`` and is imported only when asked for, so that
dagwell works, and imports quickly, without the optional ``dask`` extra.
"""

from __future__ import annotations

from collections.abc import Callable

from dagwell.errors import DefinitionError
from dagwell.execution.executors.base import Executor
from dagwell.execution.executors.inline import InlineExecutor
from dagwell.execution.executors.process import ProcessExecutor


def _dask(workers: int, address: str | None) -> Executor:
    try:
        from dagwell.execution.executors.dask import DaskExecutor
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in ("dask", "distributed"):
            raise
        raise DefinitionError(
            f"the Dask executor needs the dask extra ({exc.name} is missing): "
            "pip install 'dagwell[dask]'"
        ) from None
    return DaskExecutor(workers, address=address)


# Name -> factory taking the number of workers and the address of a cluster to join (which
# only the Dask executor uses).
_FACTORIES: dict[str, Callable[[int, str | None], Executor]] = {
    "inline": lambda workers, address: InlineExecutor(),
    "process": lambda workers, address: ProcessExecutor(workers),
    "dask": _dask,
}


def make_executor(name: str, workers: int, *, address: str | None = None) -> Executor:
    """Build the executor called ``name`` ("inline", "process" or "dask") with ``workers``.

    The inline executor ignores ``workers`` (it always has 1). The Dask executor joins the
    Dask scheduler at ``address`` (``tcp://host:port``) if given, and otherwise starts a
    local cluster of ``workers`` worker processes; it needs the ``dask`` extra. The other
    executors ignore ``address``. An unknown name raises
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
    return factory(workers, address)


__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "make_executor"]
