"""The Executor protocol: the one seam between the runner and the place task calls run.

Also holds :func:`describe_call`, the helper every executor uses to name a call in its
error messages. Implementations live beside this module, one per file.
"""

from __future__ import annotations

import functools
import reprlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")


class Executor(Protocol):
    """Runs zero-argument calls somewhere and hands back a future for each.

    The contract, which ``tests/contracts/test_executor_contract.py`` checks for every
    implementation:

    - ``submit`` returns a real :class:`concurrent.futures.Future`, so the runner can block
      on many of them with :func:`concurrent.futures.wait`. The future resolves to the call's
      return value or carries the exception it raised, with its type and message.
    - Submitting more than ``workers`` calls at once is allowed; the extra calls queue.
    - ``submit`` may be called from any thread.
    - After ``shutdown``, ``submit`` raises :class:`RuntimeError`. ``shutdown`` may be called
      more than once.

    ``name`` is what ``make_executor`` and the CLI call the executor; ``workers`` is how many
    calls it runs at the same time.

    Example::

        executor = make_executor("process", workers=2)
        future = executor.submit(functools.partial(pow, 2, 10), timeout=60)
        assert future.result() == 1024
        executor.shutdown()
    """

    name: str
    workers: int

    def submit(
        self,
        call: Callable[[], T],
        *,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> Future[T]:
        """Start ``call()`` (or queue it) and return a future for its outcome.

        ``timeout`` is in seconds, counted from the moment the call starts running. An
        executor that enforces it kills the call and fails the future with
        :class:`dagwell.errors.TaskTimeoutError`; each executor documents whether it does.
        ``resources`` (``{"GPU": 1}``, from ``@dw.task(resources=...)``) are what the call
        needs of the worker that runs it; an executor without such a notion ignores them.
        """
        ...

    def shutdown(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting calls and release the executor's resources, waiting for them.

        With ``cancel_pending=False`` calls already submitted still run to the end. With
        ``cancel_pending=True`` queued calls are cancelled and running ones are abandoned
        (killed, where the executor can kill them).
        """
        ...


def describe_call(call: Callable[..., object]) -> str:
    """Name a call for an error message: ``module.qualname`` of the function behind it.

    A ``label`` attribute on the call (a partial can carry one) wins; otherwise this sees
    through :func:`functools.partial` and falls back to a shortened ``repr``.

    Example::

        describe_call(functools.partial(json.dumps, [1]))  # -> "json.dumps"
    """
    label = getattr(call, "label", None)
    if isinstance(label, str):
        return label
    target: object = call
    while isinstance(target, functools.partial):
        target = target.func
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(qualname, str):
        return reprlib.repr(call)
    module = getattr(target, "__module__", None)
    return f"{module}.{qualname}" if isinstance(module, str) else qualname
