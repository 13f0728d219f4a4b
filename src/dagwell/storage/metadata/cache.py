"""Cache queries: keys of task runs, finding an earlier identical call, clearing entries.

A task run's ``cache_key`` is set when a cached task starts; once it succeeds, a later call
with the same key (and the same task name) takes its outputs instead of running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from dagwell.core.states import TaskState
from dagwell.core.values import StoredValue
from dagwell.storage.metadata.tables import outputs, runs, task_runs

_HIT_STATES = (TaskState.SUCCEEDED.value, TaskState.CACHED.value)


@dataclass(frozen=True)
class CacheEntry:
    """A recorded call of a cached task: where it ran, its key's parts, its outputs."""

    run_id: str
    node: str
    key: str
    parts: Mapping[str, Any]
    outputs: Mapping[str, StoredValue]
    status: str


def set_cache_key(
    tx: Connection, run_id: str, node: str, key: str, parts: Mapping[str, Any]
) -> None:
    """Record the key (and its parts) of ``node``'s call in ``run_id``."""
    tx.execute(
        update(task_runs)
        .where(task_runs.c.run_id == run_id, task_runs.c.node == node)
        .values(cache_key=key, cache_parts=dict(parts))
    )


def find_hit(conn: Connection, task: str, key: str) -> CacheEntry | None:
    """The newest successful call of ``task`` with ``key``, with its outputs, if any."""
    row = conn.execute(
        select(task_runs.c.run_id, task_runs.c.node, task_runs.c.cache_parts, task_runs.c.status)
        .join(runs, runs.c.id == task_runs.c.run_id)
        .where(
            task_runs.c.task == task,
            task_runs.c.cache_key == key,
            task_runs.c.status.in_(_HIT_STATES),
        )
        # Ties (runs created in the same microsecond) broken the same way on every backend.
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return CacheEntry(
        row.run_id,
        row.node,
        key,
        row.cache_parts or {},
        _outputs(conn, row.run_id, row.node),
        row.status,
    )


def previous_entry(conn: Connection, task: str, node: str, run_id: str) -> CacheEntry | None:
    """The newest call of ``task`` at ``node`` with a key, in a run older than ``run_id``."""
    created = select(runs.c.created_at).where(runs.c.id == run_id).scalar_subquery()
    row = conn.execute(
        select(
            task_runs.c.run_id,
            task_runs.c.node,
            task_runs.c.cache_key,
            task_runs.c.cache_parts,
            task_runs.c.status,
        )
        .join(runs, runs.c.id == task_runs.c.run_id)
        .where(
            task_runs.c.task == task,
            task_runs.c.node == node,
            task_runs.c.cache_key.is_not(None),
            runs.c.created_at < created,
        )
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return CacheEntry(row.run_id, row.node, row.cache_key, row.cache_parts or {}, {}, row.status)


def entry_of(conn: Connection, run_id: str, node: str) -> tuple[str | None, Any, str | None]:
    """``(cache_key, cache_parts, cached_from)`` recorded for ``node`` of ``run_id``."""
    row = conn.execute(
        select(task_runs.c.cache_key, task_runs.c.cache_parts, task_runs.c.cached_from).where(
            task_runs.c.run_id == run_id, task_runs.c.node == node
        )
    ).first()
    if row is None:
        return None, None, None
    return row.cache_key, row.cache_parts, row.cached_from


def mark_hit(tx: Connection, run_id: str, node: str, entry: CacheEntry) -> None:
    """Record that ``node`` took ``entry``'s outputs (the caller records the outputs)."""
    tx.execute(
        update(task_runs)
        .where(task_runs.c.run_id == run_id, task_runs.c.node == node)
        .values(cache_key=entry.key, cache_parts=dict(entry.parts), cached_from=entry.run_id)
    )


def clear(tx: Connection, task: str | None = None) -> int:
    """Forget cache keys (of ``task`` only, if given) so no later call takes those outputs."""
    query = update(task_runs).where(task_runs.c.cache_key.is_not(None))
    if task is not None:
        query = query.where(task_runs.c.task == task)
    return int(tx.execute(query.values(cache_key=None)).rowcount)


def _outputs(conn: Connection, run_id: str, node: str) -> dict[str, StoredValue]:
    found = conn.execute(
        select(outputs.c.name, outputs.c.value)
        .where(outputs.c.run_id == run_id, outputs.c.node == node)
        .order_by(outputs.c.position)
    )
    return {name: StoredValue.from_json(value) for name, value in found}
