"""Registered pipelines and load errors: what a scheduler daemon found in its pipeline files.

The daemon writes a row per pipeline it loaded (scheduled or not), so ``dagwell trigger NAME``
and the web UI can find a pipeline by name; files that failed to load are kept with the
reason until they load again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from dagwell.core.moments import iso
from dagwell.storage.metadata.tables import load_errors, pipelines
from dagwell.storage.metadata.upsert import upsert


@dataclass(frozen=True)
class RegisteredPipeline:
    """A pipeline a daemon registered: where it lives, its params and its schedule.

    ``params`` lists each param as ``{"name", "type", "default"}`` (default as text or
    None when required); ``schedule`` is None for a pipeline that only runs when triggered.
    """

    name: str
    source: str
    description: str
    params: list[dict[str, Any]]
    max_active_runs: int
    schedule: str | None
    timezone: str | None
    start_at: datetime | None
    catchup: bool
    schedule_params: Mapping[str, Any]
    last_scheduled_for: datetime | None
    next_due_at: datetime | None
    active: bool
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601)."""
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "params": self.params,
            "max_active_runs": self.max_active_runs,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "start_at": iso(self.start_at),
            "catchup": self.catchup,
            "schedule_params": dict(self.schedule_params),
            "last_scheduled_for": iso(self.last_scheduled_for),
            "next_due_at": iso(self.next_due_at),
            "active": self.active,
            "updated_at": iso(self.updated_at),
        }


def get_pipeline(conn: Connection, name: str) -> RegisteredPipeline | None:
    """The registered pipeline called ``name``, or None."""
    row = conn.execute(select(pipelines).where(pipelines.c.name == name)).first()
    return RegisteredPipeline(**row._asdict()) if row is not None else None


def list_pipelines(conn: Connection, *, active_only: bool = True) -> list[RegisteredPipeline]:
    """Registered pipelines by name (only those still in the daemon's files, by default)."""
    query = select(pipelines).order_by(pipelines.c.name)
    if active_only:
        query = query.where(pipelines.c.active.is_(True))
    return [RegisteredPipeline(**row._asdict()) for row in conn.execute(query)]


def save_pipeline(tx: Connection, found: RegisteredPipeline) -> None:
    """Insert or replace the registration of ``found.name``."""
    values = dict(found.__dict__)
    values["schedule_params"] = dict(found.schedule_params)
    upsert(tx, pipelines, ["name"], values)


def lock_pipelines(tx: Connection, names: Collection[str]) -> None:
    """Lock the rows of ``names`` until the transaction ends (PostgreSQL; SQLite's writer
    lock already serializes), so schedulers count and claim one pipeline's runs in turn."""
    if names and tx.dialect.name != "sqlite":
        query = select(pipelines.c.name).where(pipelines.c.name.in_(sorted(names)))
        tx.execute(query.order_by(pipelines.c.name).with_for_update()).all()


def set_next_due(
    tx: Connection, name: str, *, next_due_at: datetime, last_scheduled_for: datetime | None
) -> None:
    """Move a schedule on: ``last_scheduled_for`` was queued, ``next_due_at`` comes next."""
    values: dict[str, Any] = {"next_due_at": next_due_at}
    if last_scheduled_for is not None:
        values["last_scheduled_for"] = last_scheduled_for
    tx.execute(update(pipelines).where(pipelines.c.name == name).values(**values))


def deactivate_others(
    tx: Connection, in_scope: Callable[[str], bool], keep: Collection[str]
) -> None:
    """Mark inactive each pipeline not in ``keep`` whose file is ``in_scope`` (a file the
    daemon reads, or one that is gone from its folders)."""
    rows = tx.execute(
        select(pipelines.c.name, pipelines.c.source).where(pipelines.c.active.is_(True))
    ).all()
    gone = [
        row.name for row in rows if row.name not in keep and in_scope(row.source.rpartition(":")[0])
    ]
    if gone:
        tx.execute(update(pipelines).where(pipelines.c.name.in_(gone)).values(active=False))


def record_load_error(tx: Connection, path: str, error: str, at: datetime) -> None:
    """Remember that ``path`` failed to load, and why (several daemons may report it)."""
    upsert(tx, load_errors, ["path"], {"path": path, "error": error, "seen_at": at})


def clear_load_errors(tx: Connection, paths: Collection[str]) -> None:
    """Forget the load errors of ``paths`` (they loaded fine)."""
    if paths:
        tx.execute(delete(load_errors).where(load_errors.c.path.in_(list(paths))))


def list_load_errors(conn: Connection) -> list[tuple[str, str, datetime]]:
    """``(path, error, seen_at)`` of every file that failed to load, by path."""
    rows = conn.execute(
        select(load_errors.c.path, load_errors.c.error, load_errors.c.seen_at).order_by(
            load_errors.c.path
        )
    )
    return [(row.path, row.error, row.seen_at) for row in rows]
