"""Alert queries: recording an alert with its deliveries, and listing recorded alerts.

Functions take an open connection: a transaction from
:meth:`~dagwell.storage.metadata.store.MetadataStore.transaction` to write, one from
:meth:`~dagwell.storage.metadata.store.MetadataStore.reading` to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from dagwell.core.alerts import Alert, AlertKind
from dagwell.storage.metadata.tables import alerts


@dataclass(frozen=True)
class Delivery:
    """How handing one alert to one notifier went: its name, success, tries, last error.

    >>> Delivery("webhook https://hooks.slack.com/...", ok=False, tries=3, error="HTTP 500")
    """

    notifier: str
    ok: bool
    tries: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, as stored in the ``deliveries`` column."""
        return {"notifier": self.notifier, "ok": self.ok, "tries": self.tries, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        """The delivery :meth:`to_dict` gave ``data`` for."""
        return cls(str(data["notifier"]), bool(data["ok"]), int(data["tries"]), data.get("error"))


@dataclass(frozen=True)
class AlertRecord:
    """A recorded alert and its deliveries (the error text itself is not stored).

    >>> [(r.kind, r.delivered) for r in dw.list_alerts(run_id="3f2a9c")]
    [(<AlertKind.FAILURE: 'failure'>, '2/2')]
    """

    id: str
    kind: AlertKind
    pipeline: str
    run_id: str
    node: str | None
    attempt: int | None
    summary: str
    created_at: datetime
    deliveries: tuple[Delivery, ...]

    @property
    def delivered(self) -> str:
        """``"ok/total"``: how many of its notifiers took the alert."""
        ok = sum(1 for d in self.deliveries if d.ok)
        return f"{ok}/{len(self.deliveries)}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``dagwell alerts --json``)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "node": self.node,
            "attempt": self.attempt,
            "summary": self.summary,
            "created_at": self.created_at.isoformat(),
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


def record_alert(tx: Connection, alert: Alert, deliveries: Sequence[Delivery]) -> None:
    """Record ``alert`` once, with how each of its notifiers took it."""
    tx.execute(
        insert(alerts).values(
            id=alert.id,
            kind=alert.kind.value,
            pipeline=alert.pipeline,
            run_id=alert.run_id,
            node=alert.node,
            attempt=alert.attempt,
            summary=alert.summary,
            created_at=alert.created_at,
            deliveries=[d.to_dict() for d in deliveries],
        )
    )


def set_deliveries(tx: Connection, alert_id: str, deliveries: Sequence[Delivery]) -> None:
    """Replace how alert ``alert_id``'s notifiers took it (after they were tried)."""
    tx.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(deliveries=[d.to_dict() for d in deliveries])
    )


def list_alerts(
    conn: Connection,
    *,
    run_id: str | None = None,
    pipeline: str | None = None,
    kind: AlertKind | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[AlertRecord]:
    """Recorded alerts, newest first; ``run_id`` may be an id prefix.

    ``since`` keeps alerts raised at or after it; ``limit=None`` returns all.
    """
    query = select(alerts)
    if run_id is not None:
        query = query.where(alerts.c.run_id.startswith(run_id, autoescape=True))
    if pipeline is not None:
        query = query.where(alerts.c.pipeline == pipeline)
    if kind is not None:
        query = query.where(alerts.c.kind == kind.value)
    if since is not None:
        query = query.where(alerts.c.created_at >= since)
    query = query.order_by(alerts.c.created_at.desc(), alerts.c.id.desc()).limit(limit)
    return [
        AlertRecord(
            id=row.id,
            kind=AlertKind(row.kind),
            pipeline=row.pipeline,
            run_id=row.run_id,
            node=row.node,
            attempt=row.attempt,
            summary=row.summary,
            created_at=row.created_at,
            deliveries=tuple(Delivery.from_dict(d) for d in row.deliveries or ()),
        )
        for row in conn.execute(query)
    ]
