"""Audit-log queries: appending an entry (who did what, when, and how it went) and listing them.

Entries are only ever added, never changed. Functions take an open connection: a transaction
from :meth:`~dagwell.storage.metadata.store.MetadataStore.transaction` to append, one from
:meth:`~dagwell.storage.metadata.store.MetadataStore.reading` to list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from dagwell.storage.metadata.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    """One action taken through the web UI, the API or the account CLI.

    ``actor`` is a user name (or ``cli:<OS user>``), ``action`` what was asked (``login``,
    ``trigger``, ``add_user`` ...), ``target`` what it was asked of (a run id, a user),
    ``outcome`` ``ok``, ``denied`` or ``failed``, and ``source`` ``ui``, ``api`` or ``cli``.

    >>> [(e.actor, e.action, e.target) for e in dw_audit.list_audit(limit=1)]
    [('ada', 'trigger', 'churn')]
    """

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    source: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``dagwell audit --json``, the web API)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "source": self.source,
            "detail": dict(self.detail),
        }


def append(
    tx: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    source: str,
    detail: Mapping[str, Any],
) -> AuditEntry:
    """Add one entry to the log and return it, with its id.

    >>> append(tx, at=now, actor="ada", action="trigger", target="churn", outcome="ok",
    ...        source="ui", detail={"run_id": "3f2a9c01b2d4"})
    """
    statement = insert(audit_log).values(
        at=at,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        source=source,
        detail=dict(detail),
    )
    inserted = tx.execute(statement).inserted_primary_key
    assert inserted is not None
    return AuditEntry(int(inserted[0]), at, actor, action, target, outcome, source, dict(detail))


def list_entries(
    conn: Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[AuditEntry]:
    """Entries, newest first: only ``actor``'s, only of ``action``, only at or after ``since``.

    ``limit=None`` returns all.
    """
    query = select(audit_log)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    # Ids grow with each entry: the tie-break among entries written in one instant.
    query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    return [_entry(row) for row in conn.execute(query)]


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        source=row.source,
        detail=row.detail or {},
    )
