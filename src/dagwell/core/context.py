"""What task code can ask about the attempt it runs in (``dw.current()``), and what it logs.

The context is a context variable set around each attempt; the params, metrics and models a
task logs are collected here and travel back to the runner with the attempt's outcome.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagwell.core.models import LoggedModel
from dagwell.core.records import Metric
from dagwell.errors import DagwellError


@dataclass
class AttemptLog:
    """What one attempt logged: params by name, metric points and models in logging order."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    models: list[LoggedModel] = field(default_factory=list)


@dataclass(frozen=True)
class TaskContext:
    """The run, node and attempt a task call belongs to.

    ``attempt_key`` is unique per attempt and stable across processes: use it as an
    idempotency key for side effects (a task runs at least once). ``artifacts_url`` is
    the artifact store the attempt writes to (None for a context made by hand), and
    ``s3_endpoint`` the S3-compatible server holding it, if the run was given one.

    >>> ctx = dw.current()
    >>> ctx.logger.info("training %s on attempt %d", ctx.node, ctx.attempt)
    """

    run_id: str
    pipeline: str
    node: str
    attempt: int
    params: Mapping[str, Any] = field(default_factory=dict)
    scheduled_for: datetime | None = None
    artifacts_url: str | None = None
    s3_endpoint: str | None = None
    log: AttemptLog = field(default_factory=AttemptLog, repr=False, compare=False)

    @property
    def attempt_key(self) -> str:
        """``run:node:attempt``, unique for this attempt."""
        return f"{self.run_id}:{self.node}:{self.attempt}"

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records go to this attempt's log."""
        return logging.getLogger(f"dagwell.task.{self.node}")


_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "dagwell_task_context", default=None
)


def current() -> TaskContext:
    """The :class:`TaskContext` of the task attempt running now.

    Raises :class:`~dagwell.errors.DagwellError` outside a task run by dagwell.
    """
    context = _current.get()
    if context is None:
        raise DagwellError(
            "dw.current() was called outside a running task; it only works inside a task "
            "that dagwell runs (calling the task function directly has no run context)"
        )
    return context


@contextmanager
def task_context(context: TaskContext) -> Iterator[TaskContext]:
    """Make ``context`` what :func:`current` returns inside this block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
