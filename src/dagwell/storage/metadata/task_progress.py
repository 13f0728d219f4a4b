"""Task progress: attempts starting and ending, and node states set without an attempt.

Starts and ends are written in batches, a few statements whatever their number (the
runner's hot path). An end is fenced: it changes an attempt only while that attempt is
recorded as running, or, for an attempt whose start was never recorded, only if no row of
it exists yet; so a late or duplicate end changes nothing. Functions take an open
transaction; :class:`~dagwell.storage.metadata.store.MetadataStore` calls them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.states import AttemptState, TaskState
from dagwell.storage.metadata.tables import UTCDateTime, attempts, metrics, params, task_runs


def _key(table_run_id: ColumnElement[Any], table_node: ColumnElement[Any]) -> ColumnElement[bool]:
    return (table_run_id == bindparam("b_run_id", type_=String())) & (
        table_node == bindparam("b_node", type_=String())
    )


def _time(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


NAN_TEXT = "NaN"
"""What SQLite stores for a NaN metric value (its REAL columns hold NaN as NULL)."""

_KEEP_ROWCOUNT = {"preserve_rowcount": True}
_INSERT_ATTEMPT = insert(attempts)
_INSERT_METRIC = insert(metrics)
# SQLite: the value binds as given (a String bind converts nothing there), so the text 'NaN'
# is not made a float again by the column's own FLOAT bind.
_INSERT_METRIC_SQLITE = insert(metrics).values(value=bindparam("value", type_=String()))
_INSERT_PARAM = insert(params)
_START_TASK = (
    update(task_runs)
    .where(_key(task_runs.c.run_id, task_runs.c.node))
    .values(
        status=TaskState.RUNNING.value,
        attempts=bindparam("b_number", type_=Integer()),
        started_at=func.coalesce(task_runs.c.started_at, _time("b_started_at")),
    )
)
# The fence: only an attempt still recorded as running can be finished, and only once.
_FINISH_ATTEMPT = (
    update(attempts)
    .where(
        _key(attempts.c.run_id, attempts.c.node),
        attempts.c.number == bindparam("b_number", type_=Integer()),
        attempts.c.status == AttemptState.RUNNING.value,
    )
    .values(
        status=bindparam("b_status", type_=String()),
        # The worker's own start time, when known: an attempt may have waited in a
        # worker's queue after the runner recorded it as started.
        started_at=func.coalesce(_time("b_started_at"), attempts.c.started_at),
        ended_at=_time("b_ended_at"),
        error=bindparam("b_error", type_=String()),
        traceback=bindparam("b_traceback", type_=String()),
    )
)
_END_TASK = (
    update(task_runs)
    .where(_key(task_runs.c.run_id, task_runs.c.node))
    .values(
        status=bindparam("b_status", type_=String()),
        error=bindparam("b_error", type_=String()),
        attempts=bindparam("b_number", type_=Integer()),
        # A first attempt's real start replaces the recorded one; later attempts keep it.
        started_at=case(
            (
                bindparam("b_number", type_=Integer()) == 1,
                func.coalesce(_time("b_started_at"), task_runs.c.started_at),
            ),
            else_=func.coalesce(task_runs.c.started_at, _time("b_started_at")),
        ),
        ended_at=_time("b_ended_at"),
    )
)
_SET_TASK = (
    update(task_runs)
    .where(_key(task_runs.c.run_id, task_runs.c.node))
    .values(
        status=bindparam("b_status", type_=String()), error=bindparam("b_error", type_=String())
    )
)
_SET_TASK_ENDED = _SET_TASK.values(ended_at=_time("b_ended_at"))


def attempt_insert_once(dialect: str) -> Executable | None:
    """INSERT of attempt rows that skips rows whose key exists, or None if unknown."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(attempts).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(attempts).on_conflict_do_nothing()
    return None


def record_starts(tx: Connection, run_id: str, starts: Sequence[AttemptStart]) -> None:
    """Record ``starts`` as running attempts, and their nodes as running with them."""
    tx.execute(_INSERT_ATTEMPT, [_running_attempt_row(run_id, s) for s in starts])
    tx.execute(
        _START_TASK,
        [
            {
                "b_run_id": run_id,
                "b_node": s.node,
                "b_number": s.number,
                "b_started_at": s.started_at,
            }
            for s in starts
        ],
    )


def record_ends(
    tx: Connection,
    run_id: str,
    ends: Sequence[AttemptEnd],
    insert_once: Executable | None,
) -> list[bool]:
    """Record ``ends`` and their nodes' new states, fenced; for each, whether it was recorded.

    ``insert_once`` is the dialect's insert that skips existing rows (see
    :func:`attempt_insert_once`), for the ends that carry their start.
    """
    written = _insert_finished_attempts(tx, run_id, [e for e in ends if e.start], insert_once)
    recorded = [e.node in written if e.start else _fence_attempt(tx, run_id, e) for e in ends]
    done = [e for e, ok in zip(ends, recorded, strict=True) if ok]
    if done:
        tx.execute(_END_TASK, [_end_task_row(run_id, e) for e in done])
    return recorded


def record_logged(tx: Connection, run_id: str, ends: Sequence[AttemptEnd]) -> None:
    """Params and metrics the attempts logged; a param logged again keeps the last value."""
    sqlite = tx.dialect.name == "sqlite"
    points = [
        {
            "run_id": run_id,
            "node": m.node,
            "name": m.name,
            "step": m.step,
            # SQLite turns a NaN REAL into NULL, which the column refuses; the text 'NaN'
            # is kept as it is (and sorts above every number, as NaN does in PostgreSQL).
            # Reading turns it back into a float (run_rows.py).
            "value": NAN_TEXT if sqlite and math.isnan(m.value) else m.value,
            "logged_at": m.time,
        }
        for e in ends
        for m in e.metrics
    ]
    if points:
        tx.execute(_INSERT_METRIC_SQLITE if sqlite else _INSERT_METRIC, points)
    for end in ends:
        if end.params:
            tx.execute(
                delete(params).where(
                    params.c.run_id == run_id,
                    params.c.node == end.node,
                    params.c.name.in_(list(end.params)),
                )
            )
            tx.execute(
                _INSERT_PARAM,
                [
                    {"run_id": run_id, "node": end.node, "name": name, "value": value}
                    for name, value in end.params.items()
                ],
            )


def set_status(
    tx: Connection,
    run_id: str,
    nodes: Sequence[str],
    status: TaskState,
    *,
    at: datetime | None,
    error: str | None,
) -> None:
    """Set the state (and error) of ``nodes``; ``at``, if given, is when they ended."""
    if not nodes:
        return
    rows: list[dict[str, Any]] = [
        {"b_run_id": run_id, "b_node": node, "b_status": status.value, "b_error": error}
        for node in nodes
    ]
    if at is None:
        tx.execute(_SET_TASK, rows)
        return
    for row in rows:
        row["b_ended_at"] = at
    tx.execute(_SET_TASK_ENDED, rows)


def _fence_attempt(tx: Connection, run_id: str, end: AttemptEnd) -> bool:
    fenced = tx.execute(
        _FINISH_ATTEMPT,
        {
            "b_run_id": run_id,
            "b_node": end.node,
            "b_number": end.number,
            "b_status": end.status.value,
            "b_started_at": end.started_at,
            "b_ended_at": end.ended_at,
            "b_error": end.error,
            "b_traceback": end.traceback,
        },
    )
    return bool(fenced.rowcount)


def _insert_finished_attempts(
    tx: Connection, run_id: str, ends: Sequence[AttemptEnd], insert_once: Executable | None
) -> set[str]:
    """Insert attempt rows that start finished; the nodes whose row was new."""
    if not ends:
        return set()
    rows = []
    for end in ends:
        assert end.start is not None
        row = _running_attempt_row(run_id, end.start)
        row.update(
            status=end.status.value,
            ended_at=end.ended_at,
            error=end.error,
            traceback=end.traceback,
        )
        rows.append(row)
    if insert_once is None:
        tx.execute(_INSERT_ATTEMPT, rows)  # the primary key still refuses a duplicate
        return {end.node for end in ends}
    # psycopg reports -1 as the row count of an INSERT unless asked to keep it; without
    # it every batch would take the lookup below.
    inserted = tx.execute(insert_once, rows, execution_options=_KEEP_ROWCOUNT).rowcount
    if inserted == len(rows):
        return {end.node for end in ends}
    # Another writer recorded some of these attempts first (rare): ours are the rows
    # that hold exactly what we wrote.
    found = tx.execute(
        select(attempts.c.node, attempts.c.number, attempts.c.status, attempts.c.ended_at)
        .where(attempts.c.run_id == run_id)
        .where(attempts.c.node.in_([e.node for e in ends]))
    ).all()
    current = {(r.node, r.number): (r.status, r.ended_at) for r in found}
    return {e.node for e in ends if current.get((e.node, e.number)) == (e.status.value, e.ended_at)}


def _running_attempt_row(run_id: str, start: AttemptStart) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "node": start.node,
        "number": start.number,
        "status": AttemptState.RUNNING.value,
        "started_at": start.started_at,
        "log_path": start.log_path,
    }


def _end_task_row(run_id: str, end: AttemptEnd) -> dict[str, Any]:
    return {
        "b_run_id": run_id,
        "b_node": end.node,
        "b_number": end.number,
        "b_status": end.task_status.value,
        "b_error": end.error,
        "b_started_at": end.start.started_at if end.start else end.started_at,
        "b_ended_at": end.ended_at if end.task_status.is_finished else None,
    }
