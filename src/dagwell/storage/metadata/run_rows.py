"""Run rows into run records: the SELECTs over a run's tables and the building of
:class:`~dagwell.core.records.Run` and :class:`~dagwell.core.records.TaskRun` from them.

One query per table, whatever the number of runs and nodes read.
:class:`~dagwell.storage.metadata.store.MetadataStore` picks the runs and calls these.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from dagwell.core.records import Attempt, Metric, Run, TaskRun
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.storage.metadata.tables import attempts, metrics, outputs, params, runs, task_runs

if TYPE_CHECKING:
    from typing import TypeAlias

    from typing_extensions import Unpack

    AnyRow: TypeAlias = Row[Unpack[tuple[Any, ...]]]

RunFilter = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Given a table's ``run_id`` column, the condition selecting the runs being read."""

SELECT_RUNS = select(
    runs.c.id,
    runs.c.pipeline,
    runs.c.status,
    runs.c.params,
    runs.c.started_at,
    runs.c.ended_at,
    runs.c.error,
    runs.c.result,
    runs.c.code_hash,
    runs.c.environment,
    runs.c.runner,
    runs.c.parent_run_id,
    runs.c.trigger,
    runs.c.heartbeat_at,
    runs.c.scheduled_for,
    runs.c.source,
    runs.c.cancel_requested_at,
    runs.c.cancel_requested_by,
)
"""The columns of ``runs`` that :func:`run_record` reads; add the filter and order."""

_SELECT_TASKS = select(
    task_runs.c.run_id,
    task_runs.c.node,
    task_runs.c.task,
    task_runs.c.status,
    task_runs.c.started_at,
    task_runs.c.ended_at,
    task_runs.c.upstream,
    task_runs.c.error,
    task_runs.c.map_parent,
).order_by(task_runs.c.run_id, task_runs.c.seq)
_SELECT_PARAMS = select(params.c.run_id, params.c.node, params.c.name, params.c.value)
_SELECT_METRICS = select(
    metrics.c.run_id,
    metrics.c.node,
    metrics.c.name,
    metrics.c.value,
    metrics.c.step,
    metrics.c.logged_at,
).order_by(metrics.c.id)
_SELECT_ATTEMPTS = select(
    attempts.c.run_id,
    attempts.c.node,
    attempts.c.number,
    attempts.c.status,
    attempts.c.started_at,
    attempts.c.ended_at,
    attempts.c.error,
    attempts.c.traceback,
    attempts.c.log_path,
).order_by(attempts.c.run_id, attempts.c.node, attempts.c.number)
_SELECT_OUTPUTS = select(
    outputs.c.run_id, outputs.c.node, outputs.c.name, outputs.c.value
).order_by(outputs.c.run_id, outputs.c.node, outputs.c.position)


def load_runs(conn: Connection, run_rows: Sequence[AnyRow], runs_of: RunFilter) -> list[Run]:
    """Build runs with their tasks: one query per table, whatever the number of nodes."""
    attempts_of: defaultdict[tuple[str, str], list[Attempt]] = defaultdict(list)
    query = _SELECT_ATTEMPTS.where(runs_of(attempts.c.run_id))
    for run_id, node, number, status, started, ended, error, traceback, log in conn.execute(query):
        attempts_of[(run_id, node)].append(
            Attempt(number, AttemptState(status), started, ended, error, traceback, log)
        )
    outputs_of: defaultdict[tuple[str, str], dict[str, StoredValue]] = defaultdict(dict)
    for run_id, node, name, value in conn.execute(_SELECT_OUTPUTS.where(runs_of(outputs.c.run_id))):
        outputs_of[(run_id, node)][name] = StoredValue.from_json(value)
    params_of: defaultdict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for run_id, node, name, value in conn.execute(_SELECT_PARAMS.where(runs_of(params.c.run_id))):
        params_of[(run_id, node)][name] = value
    metrics_of: defaultdict[str, list[Metric]] = defaultdict(list)
    for run_id, node, name, value, step, logged in conn.execute(
        _SELECT_METRICS.where(runs_of(metrics.c.run_id))
    ):
        # float(): SQLite hands back the text 'NaN' for a NaN value (see task_progress.py).
        metrics_of[run_id].append(Metric(node, name, float(value), step, logged))
    tasks_of: defaultdict[str, dict[str, TaskRun]] = defaultdict(dict)
    children_of: defaultdict[tuple[str, str], list[TaskRun]] = defaultdict(list)
    task: str
    upstream: list[str]
    query = _SELECT_TASKS.where(runs_of(task_runs.c.run_id))
    for run_id, node, task, status, started, ended, upstream, error, parent in conn.execute(query):
        key = (run_id, node)
        record = TaskRun(
            node=node,
            task=task,
            status=TaskState(status),
            started_at=started,
            ended_at=ended,
            attempts=tuple(attempts_of.get(key, ())),
            outputs=outputs_of.get(key, {}),
            upstream=tuple(upstream),
            error=error,
            map_parent=parent,
            params=params_of.get(key, {}),
        )
        if parent is None:
            tasks_of[run_id][node] = record
        else:
            children_of[(run_id, parent)].append(record)
    return [
        run_record(row, _with_children(row.id, tasks_of[row.id], children_of), metrics_of[row.id])
        for row in run_rows
    ]


def run_record(row: AnyRow, tasks: Mapping[str, TaskRun], points: Sequence[Metric] = ()) -> Run:
    """The run of a :data:`SELECT_RUNS` row, with ``tasks`` and metric ``points``."""
    return Run(
        id=row.id,
        pipeline=row.pipeline,
        status=RunState(row.status),
        params=row.params,
        started_at=row.started_at,
        ended_at=row.ended_at,
        tasks=tasks,
        error=row.error,
        result_spec=row.result,
        metric_points=tuple(points),
        code_hash=row.code_hash,
        environment=row.environment,
        runner=row.runner,
        parent_run_id=row.parent_run_id,
        trigger=row.trigger,
        heartbeat_at=row.heartbeat_at,
        scheduled_for=row.scheduled_for,
        source=row.source,
        cancel_requested_at=row.cancel_requested_at,
        cancel_requested_by=row.cancel_requested_by,
    )


def _with_children(
    run_id: str,
    tasks: dict[str, TaskRun],
    children_of: Mapping[tuple[str, str], list[TaskRun]],
) -> dict[str, TaskRun]:
    """Tasks in graph order, each dynamic fan-out followed by its children in item order."""
    ordered: dict[str, TaskRun] = {}
    for node, record in tasks.items():
        ordered[node] = record
        for child in children_of.get((run_id, node), ()):
            ordered[child.node] = child
    return ordered
