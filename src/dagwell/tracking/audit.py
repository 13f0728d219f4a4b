"""The audit log: who did what, when, through which door, and how it went.

The web app records every action it is asked for (logins, triggers, resumes, cancels,
alias changes, user and token changes), refused ones included; ``dagwell users`` and
``dagwell tokens`` record theirs. Admins read the log in the web UI and with
``dagwell audit``. Every function takes optional :class:`~dagwell.settings.Settings`.

>>> record_audit("ada", "trigger", target="churn", source="ui", detail={"run_id": "3f2a9c"})
>>> [(e.actor, e.action) for e in list_audit(limit=1)]
[('ada', 'trigger')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from dagwell.errors import DefinitionError
from dagwell.settings import Settings
from dagwell.storage.metadata import audit as queries

# Re-exported: the web app and the CLI take it from here.
from dagwell.storage.metadata.audit import AuditEntry as AuditEntry
from dagwell.storage.shared import metadata_store

OUTCOMES = ("ok", "denied", "failed")
"""How an action went: done, refused for lack of a role (or a wrong password), or failed."""

SOURCES = ("ui", "api", "cli")
"""Where an action came from: the web UI, the HTTP API (tokens), or the command line."""


def record_audit(
    actor: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    source: str = "cli",
    detail: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
) -> AuditEntry:
    """Write one entry: ``actor`` asked for ``action`` on ``target``, with ``outcome``.

    Parameters:
        actor: the user name, or ``cli:<OS user>`` for the account CLI.
        action: ``login``, ``trigger``, ``resume``, ``cancel``, ``set_alias``,
            ``add_user``, ``remove_user``, ``set_role``, ``set_password``,
            ``create_token``, ``revoke_token`` ...
        target: what the action was about: a pipeline, run id, ``model:alias``, user.
        outcome: one of :data:`OUTCOMES`.
        source: one of :data:`SOURCES`.
        detail: JSON-able facts worth keeping (the new run's id, the error).

    >>> record_audit("grace", "cancel", "3f2a9c01b2d4", outcome="denied", source="api")
    AuditEntry(id=7, at=..., actor='grace', action='cancel', ...)
    """
    if not isinstance(actor, str) or not actor:
        raise DefinitionError("an audit entry needs an actor (who did it)")
    if not isinstance(action, str) or not action:
        raise DefinitionError("an audit entry needs an action (what was done)")
    if outcome not in OUTCOMES:
        raise DefinitionError(f"audit outcome must be one of {OUTCOMES}, got {outcome!r}")
    if source not in SOURCES:
        raise DefinitionError(f"audit source must be one of {SOURCES}, got {source!r}")
    # An action already taken is recorded whatever its detail holds: what is not plain JSON
    # (a NaN param, an object) is kept as text rather than lose the entry.
    facts = _plain(dict(detail or {}))
    store = metadata_store((settings or Settings.from_env()).db_url)
    with store.transaction() as tx:
        return queries.append(
            tx,
            at=datetime.now(timezone.utc),
            actor=actor,
            action=action,
            target=str(target),
            outcome=outcome,
            source=source,
            detail=facts,
        )


def list_audit(
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
    settings: Settings | None = None,
) -> list[AuditEntry]:
    """Audit entries, newest first, filtered by ``actor``, ``action`` and ``since``.

    ``since`` keeps entries written at or after it; ``limit=None`` returns all.

    >>> [(e.at, e.actor, e.action, e.outcome) for e in list_audit(actor="grace")]
    [(datetime(...), 'grace', 'cancel', 'denied')]
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DefinitionError(f"limit must be an int >= 1 or None, got {limit!r}")
    if since is not None and since.tzinfo is None:
        raise DefinitionError(f"since must be a timezone-aware datetime, got {since!r}")
    store = metadata_store((settings or Settings.from_env()).db_url)
    with store.reading() as conn:
        return queries.list_entries(conn, actor=actor, action=action, since=since, limit=limit)


def _plain(value: Any) -> Any:
    """``value`` as strict JSON: non-finite floats and other objects become their text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)
