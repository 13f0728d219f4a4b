"""The run queue: runs waiting for a scheduler daemon, claims on them, and their start.

A queued run is a ``runs`` row in state ``queued`` with the pipeline's ``source``; it has no
nodes yet. A daemon claims it (``queued`` -> ``running``, one UPDATE that only one claimer
can win; ``FOR UPDATE SKIP LOCKED`` lets several daemons on PostgreSQL pick different runs),
and the process that executes it records the nodes when it starts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dagwell.core.states import RunState
from dagwell.storage.metadata.tables import runs

_RUNNING = RunState.RUNNING.value
_QUEUED = RunState.QUEUED.value


def claim_key(pipeline: str, scheduled_for: datetime) -> str:
    """The unique key of a pipeline's logical time: no time is queued twice."""
    return f"{pipeline}|{scheduled_for.isoformat()}"


def recovery_key(dead_run_id: str) -> str:
    """The claim key of the run resuming ``dead_run_id`` after its runner died: one only.

    A resume queued under this key counts the dead run's lost attempts against each node's
    retries (see ``dagwell.scheduling.launch``); one a user asked for starts them afresh.
    """
    return f"resume|{dead_run_id}"


def is_recovery(conn: Connection, run_id: str) -> bool:
    """Whether ``run_id`` was queued to resume a run whose runner died."""
    key = conn.execute(select(runs.c.claim_key).where(runs.c.id == run_id)).scalar()
    return isinstance(key, str) and key.startswith(recovery_key(""))


def pending_resume(conn: Connection, run_id: str) -> str | None:
    """The id of a queued or running resume of ``run_id``, if there is one."""
    query = select(runs.c.id).where(
        runs.c.parent_run_id == run_id,
        runs.c.trigger == "resume",
        runs.c.status.in_([_QUEUED, _RUNNING]),
    )
    found: str | None = conn.execute(query.limit(1)).scalar()
    return found


def queue_run(
    tx: Connection,
    *,
    run_id: str,
    pipeline: str,
    params: Mapping[str, Any],
    source: str,
    trigger: str,
    created_at: datetime,
    scheduled_for: datetime | None = None,
    key: str | None = None,
    parent_run_id: str | None = None,
) -> bool:
    """Add a queued run; False (and nothing added) when a run with ``key`` exists already."""
    values = {
        "id": run_id,
        "pipeline": pipeline,
        "status": _QUEUED,
        "params": dict(params),
        "created_at": created_at,
        "executor": "",
        "trigger": trigger,
        "scheduled_for": scheduled_for,
        "source": source,
        "claim_key": key,
        "parent_run_id": parent_run_id,
    }
    dialect = tx.dialect.name
    if key is not None and dialect in ("sqlite", "postgresql"):
        # ON CONFLICT DO NOTHING: a failed INSERT would abort a PostgreSQL transaction.
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        done = tx.execute(
            make(runs).values(**values).on_conflict_do_nothing(index_elements=["claim_key"]),
            execution_options={"preserve_rowcount": True},  # else -1 for INSERTs on psycopg
        )
        return bool(done.rowcount)
    if key is not None and tx.execute(select(runs.c.id).where(runs.c.claim_key == key)).first():
        return False
    tx.execute(insert(runs).values(**values))
    return True


def queued_runs(tx: Connection, limit: int, *, skip: Collection[str] = ()) -> list[tuple[str, str]]:
    """``(run id, pipeline)`` of the oldest queued runs, locked for this transaction.

    Runs of the pipelines in ``skip`` (at their limit) are left out. On PostgreSQL the rows
    are locked ``FOR UPDATE SKIP LOCKED``, so a second daemon claiming at the same moment
    gets other runs instead of waiting; SQLite ignores it.
    """
    query = select(runs.c.id, runs.c.pipeline).where(runs.c.status == _QUEUED)
    if skip:
        query = query.where(runs.c.pipeline.not_in(list(skip)))
    query = (
        query.order_by(runs.c.created_at, runs.c.id).limit(limit).with_for_update(skip_locked=True)
    )
    return [(row.id, row.pipeline) for row in tx.execute(query)]


def any_queued(conn: Connection) -> bool:
    """Whether any run waits in the queue (a cheap check before taking a write lock)."""
    return (
        conn.execute(select(runs.c.id).where(runs.c.status == _QUEUED).limit(1)).first() is not None
    )


def claim(tx: Connection, run_id: str, *, runner: str, at: datetime) -> bool:
    """Move ``run_id`` from queued to running for ``runner``; False if someone else did."""
    done = tx.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == _QUEUED)
        # The heartbeat is a liveness signal, in real time whatever clock ``at`` is from.
        .values(status=_RUNNING, runner=runner, started_at=at, heartbeat_at=_real_now())
    )
    return bool(done.rowcount)


def _real_now() -> datetime:
    return datetime.now(timezone.utc)


def active_counts(conn: Connection, pipelines: Sequence[str]) -> dict[str, int]:
    """How many runs of each of ``pipelines`` are running now."""
    if not pipelines:
        return {}
    rows = conn.execute(
        select(runs.c.pipeline, func.count())
        .where(runs.c.status == _RUNNING, runs.c.pipeline.in_(list(pipelines)))
        .group_by(runs.c.pipeline)
    )
    return {row[0]: int(row[1]) for row in rows}


def start_claimed(
    tx: Connection,
    run_id: str,
    *,
    executor: str,
    started_at: datetime,
    runner: str,
    code_hash: str | None,
    environment: Mapping[str, Any] | None,
) -> bool:
    """Record that the process executing a claimed run started it; False if not claimed."""
    done = tx.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == _RUNNING)
        .values(
            executor=executor,
            started_at=started_at,
            heartbeat_at=started_at,
            runner=runner,
            code_hash=code_hash,
            environment=dict(environment) if environment is not None else None,
        )
    )
    return bool(done.rowcount)


def daemon_runs(conn: Connection) -> list[str]:
    """Ids of running runs a daemon started (they have a source), oldest first."""
    rows = conn.execute(
        select(runs.c.id)
        .where(runs.c.status == _RUNNING, runs.c.source.is_not(None))
        .order_by(runs.c.created_at, runs.c.id)
    )
    return [row.id for row in rows]


def scheduled_times(conn: Connection, pipeline: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` (see :func:`claim_key`) already have a run of ``pipeline``."""
    if not keys:
        return set()
    rows = conn.execute(
        select(runs.c.claim_key).where(
            runs.c.pipeline == pipeline, runs.c.claim_key.in_(list(keys))
        )
    )
    return {row.claim_key for row in rows}


def end_running(
    tx: Connection,
    run_id: str,
    *,
    error: str,
    at: datetime,
    runner: str | None = None,
    status: RunState = RunState.FAILED,
) -> bool:
    """Record a running run ended in ``status`` (failed unless told) with ``error``; False
    when it is no longer running (or, with ``runner``, when another process has taken it
    up since it was seen)."""
    query = update(runs).where(runs.c.id == run_id, runs.c.status == _RUNNING)
    if runner is not None:
        query = query.where(runs.c.runner == runner)
    done = tx.execute(query.values(status=status.value, ended_at=at, error=error))
    return bool(done.rowcount)
