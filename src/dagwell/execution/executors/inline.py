"""InlineExecutor: runs each call at once, in the caller's thread. The reference executor."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")


class InlineExecutor:
    """Runs each call synchronously inside ``submit`` and returns a future that is done.

    The reference implementation of :class:`~dagwell.execution.executors.base.Executor` and
    the test default: no processes, no pickling, and a debugger or ``breakpoint()`` in task
    code just works. An exception raised by the call goes into the future; only
    ``KeyboardInterrupt`` and ``SystemExit`` propagate, because they are the caller's own.

    ``timeout`` is accepted but **not enforced**: a call in the caller's thread cannot be
    killed, so it always runs to the end. ``resources`` are ignored. ``workers`` is always 1.

    Example::

        executor = InlineExecutor()
        assert executor.submit(lambda: 6 * 7).result() == 42
        executor.shutdown()
    """

    name = "inline"
    workers = 1

    def __init__(self) -> None:
        self._closed = False

    def submit(
        self,
        call: Callable[[], T],
        *,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        """Run ``call()`` now and return a done future holding its result or exception."""
        if self._closed:
            raise RuntimeError("cannot submit to an InlineExecutor after shutdown()")
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            result = call()
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting calls. Nothing is ever pending, so there is nothing to wait for."""
        self._closed = True
