"""Alerts: what a failure, retry, success or missed SLA tells the people who must act.

An :class:`Alert` is plain data; the hooks that receive it (``on_failure=``, ``on_sla_miss=``
and the others on tasks and pipelines) are any callables taking one alert, such as the
notifiers of ``dw.notify``. This module also checks those options when a task or pipeline
is defined.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dagwell.errors import DefinitionError

AlertHook = Callable[["Alert"], object]
"""A callable that receives an :class:`Alert`: a notifier, or your own function."""

HOOK_OPTIONS = ("on_failure", "on_retry", "on_success", "on_sla_miss")


class AlertKind(str, enum.Enum):
    """What happened: a final failure, a retry, a success, or a missed SLA."""

    FAILURE = "failure"
    RETRY = "retry"
    SUCCESS = "success"
    SLA_MISS = "sla_miss"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Alert:
    """One event worth telling someone about, with enough context to act on it.

    ``id`` is short and unique, safe to put in a link; ``node`` and ``attempt`` are None for
    an alert about the whole run.

    >>> def page_me(alert: dw.Alert) -> None:
    ...     print(alert.kind, alert.pipeline, alert.run_id, alert.node, alert.summary)
    >>> @dw.task(on_failure=page_me)
    ... def train(): ...
    """

    id: str
    kind: AlertKind
    pipeline: str
    run_id: str
    node: str | None
    attempt: int | None
    summary: str
    created_at: datetime
    error: str | None = None
    scheduled_for: datetime | None = None

    @property
    def text(self) -> str:
        """One line for a chat message or an email subject."""
        return f"[dagwell] {self.summary} (run {self.run_id}, alert {self.id})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the body a webhook receives (plus a Slack-style ``text``)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "node": self.node,
            "attempt": self.attempt,
            "summary": self.summary,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
        }


def alert_hooks(value: Any, where: str, option: str) -> tuple[AlertHook, ...]:
    """``value`` (None, one callable, or a list of them) as a tuple of hooks; else an error.

    >>> alert_hooks(dw.notify.log(), "task 'fit'", "on_failure")
    (LogNotifier(...),)
    """
    if value is None:
        return ()
    hooks = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for hook in hooks:
        if not callable(hook):
            raise DefinitionError(
                f"{where}: {option} takes a callable (such as dw.notify.webhook(url)) or a "
                f"list of them, got {type(hook).__name__} {hook!r}"
            )
    return hooks


def sla_seconds(value: Any, where: str) -> float | None:
    """An ``sla=`` option (seconds or a timedelta) as positive seconds, or None."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise DefinitionError(
            f"{where}: sla must be a positive number of seconds or a timedelta, got {value!r}"
        )
    return float(value)
