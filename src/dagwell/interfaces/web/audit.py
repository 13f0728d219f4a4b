"""Auditing the actions routes take: ``with audited(who, "trigger", target, settings)``.

Every action the web app is asked for (trigger, resume, cancel, alias change) is written
to the audit log with who asked, the target, and how it went: ``ok`` with what it made,
or ``failed`` with the error, from ``ui`` (signed in with the session cookie) or ``api``
(a token). Refusals (``denied``) are recorded where access is decided.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagwell.interfaces.web.access import Principal
from dagwell.settings import Settings


@contextmanager
def audited(
    who: Principal, action: str, target: str, settings: Settings, *, source: str | None = None
) -> Iterator[dict[str, Any]]:
    """Record ``action`` on ``target`` by ``who`` once the block ends; the block may add
    facts to the yielded dict (the new run's id). An error is recorded, then raised.
    ``source`` is ``ui`` or ``api``; by default, how ``who`` signed in says which.

    >>> with audited(who, "trigger", "churn", settings) as detail:
    ...     detail["run_id"] = trigger_registered("churn", settings=settings).id
    """
    from dagwell.tracking.audit import record_audit

    source = source or who.source
    detail: dict[str, Any] = {}
    try:
        yield detail
    except Exception as exc:
        detail["error"] = str(exc)
        record_audit(who.name, action, target, "failed", source, detail, settings=settings)
        raise
    record_audit(who.name, action, target, "ok", source, detail, settings=settings)
