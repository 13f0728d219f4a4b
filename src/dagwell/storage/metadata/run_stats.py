"""Counts over many runs at once: nodes per state, runs per pipeline and state, durations.

For listings (a page of runs with its node counts, pipelines with their recent runs) and
for ``/metrics``. Each function is one or two aggregate queries, whatever the number of
runs; none reads a run's rows one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from dagwell.core.moments import iso, seconds_between
from dagwell.core.states import RunState
from dagwell.storage.metadata.tables import runs, task_runs

FINISHED = (RunState.SUCCEEDED.value, RunState.FAILED.value, RunState.CANCELLED.value)


@dataclass(frozen=True)
class RunBrief:
    """A run as a pipeline listing shows it: id, state, how it started, when."""

    id: str
    status: str
    trigger: str
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while unknown."""
        return seconds_between(self.started_at, self.ended_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "status": self.status,
            "trigger": self.trigger,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration": self.duration,
        }


def task_counts(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per run in ``run_ids``: how many of its nodes are in each state."""
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    if not run_ids:
        return {}
    query = (
        select(task_runs.c.run_id, task_runs.c.status, func.count())
        .where(task_runs.c.run_id.in_(list(run_ids)))
        .group_by(task_runs.c.run_id, task_runs.c.status)
    )
    for run_id, status, count in conn.execute(query):
        counts[run_id][status] = int(count)
    return dict(counts)


def run_pipelines(conn: Connection) -> list[str]:
    """The names of every pipeline with a recorded run, sorted."""
    query = select(runs.c.pipeline).distinct().order_by(runs.c.pipeline)
    return [row[0] for row in conn.execute(query)]


def runs_by_state(conn: Connection) -> dict[tuple[str, str], int]:
    """How many runs each pipeline has in each state: ``{(pipeline, state): count}``."""
    query = select(runs.c.pipeline, runs.c.status, func.count()).group_by(
        runs.c.pipeline, runs.c.status
    )
    return {(pipeline, status): int(count) for pipeline, status, count in conn.execute(query)}


def recent_runs(conn: Connection, pipeline: str, limit: int) -> list[RunBrief]:
    """The ``limit`` newest runs of ``pipeline``, newest first."""
    query = (
        select(
            runs.c.id,
            runs.c.status,
            runs.c.trigger,
            runs.c.created_at,
            runs.c.started_at,
            runs.c.ended_at,
        )
        .where(runs.c.pipeline == pipeline)
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return [RunBrief(*row) for row in conn.execute(query)]


def task_runs_by_state(conn: Connection) -> dict[str, int]:
    """How many task runs (nodes of all runs) are in each state."""
    query = select(task_runs.c.status, func.count()).group_by(task_runs.c.status)
    return {status: int(count) for status, count in conn.execute(query)}


def duration_sums(conn: Connection) -> dict[tuple[str, str], tuple[int, float]]:
    """Per pipeline and final state, how many finished runs and their total seconds."""
    seconds = _seconds_between(conn, runs.c.started_at, runs.c.ended_at)
    query = (
        select(runs.c.pipeline, runs.c.status, func.count(), func.sum(seconds))
        .where(
            runs.c.status.in_(FINISHED),
            runs.c.started_at.is_not(None),
            runs.c.ended_at.is_not(None),
        )
        .group_by(runs.c.pipeline, runs.c.status)
    )
    return {
        (pipeline, status): (int(count), float(total or 0.0))
        for pipeline, status, count, total in conn.execute(query)
    }


def _seconds_between(
    conn: Connection, start: ColumnElement[Any], end: ColumnElement[Any]
) -> ColumnElement[Any]:
    """``end - start`` in seconds, in the database's own SQL (times are stored as UTC)."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)  # PostgreSQL
