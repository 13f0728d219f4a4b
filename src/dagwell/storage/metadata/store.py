"""The metadata store: run, task-run, attempt and output rows in, core records out.

Writes take an open transaction (from :meth:`MetadataStore.transaction`) as their first
argument, so the runner can batch several state changes into one commit. Reads open their
own short connection and return :class:`~dagwell.core.records.Run` values. Statements are
SQLAlchemy Core constructs built once at import; SQLAlchemy caches their compiled form.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

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
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from dagwell.core.datasets import DatasetVersion
from dagwell.core.records import Attempt, AttemptEnd, AttemptStart, Metric, Run, TaskRun
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.metadata import cache, lineage
from dagwell.storage.metadata.cache import CacheEntry
from dagwell.storage.metadata.datasets import (
    DatasetVersionRecord,
    list_dataset_versions,
    record_dataset_uses,
)
from dagwell.storage.metadata.engine import for_reads, make_engine
from dagwell.storage.metadata.migrate import ensure_schema
from dagwell.storage.metadata.models import ModelStore
from dagwell.storage.metadata.tables import (
    UTCDateTime,
    artifacts,
    attempts,
    metrics,
    outputs,
    params,
    runs,
    task_runs,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    from typing_extensions import Unpack

    AnyRow: TypeAlias = Row[Unpack[tuple[Any, ...]]]

MIN_PREFIX = 4
"""The shortest run-id prefix :meth:`MetadataStore.get_run` accepts."""


@dataclass(frozen=True)
class NewTaskRun:
    """A node to record when a run (or a dynamic fan-out) is created.

    >>> NewTaskRun("fit-1", "fit", upstream=("split",))
    """

    node: str
    task: str
    upstream: tuple[str, ...] = ()
    status: TaskState = TaskState.PENDING
    map_parent: str | None = None
    map_index: int | None = None


def _key(table_run_id: ColumnElement[Any], table_node: ColumnElement[Any]) -> ColumnElement[bool]:
    return (table_run_id == bindparam("b_run_id", type_=String())) & (
        table_node == bindparam("b_node", type_=String())
    )


def _time(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


_INSERT_RUN = insert(runs)
_INSERT_TASK_RUN = insert(task_runs)
_INSERT_ATTEMPT = insert(attempts)
_INSERT_OUTPUT = insert(outputs)
_INSERT_METRIC = insert(metrics)
_INSERT_PARAM = insert(params)
_NEXT_SEQ = select(func.coalesce(func.max(task_runs.c.seq) + 1, 0)).where(
    task_runs.c.run_id == bindparam("b_run_id", type_=String())
)
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
_FINISH_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id", type_=String()))
    .values(
        status=bindparam("b_status", type_=String()),
        ended_at=_time("b_ended_at"),
        result=bindparam("b_result", type_=runs.c.result.type),
        error=bindparam("b_error", type_=String()),
    )
)
_HEARTBEAT = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id", type_=String()))
    .values(heartbeat_at=_time("b_at"))
)

_SELECT_RUNS = select(
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
)
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


class MetadataStore:
    """Runs, task runs, attempts and outputs in a SQL database (SQLite or PostgreSQL).

    The schema is migrated to the current revision on first use. Writes go through
    :meth:`transaction`; reads return core records.

    >>> store = MetadataStore("sqlite:///.dagwell/dagwell.db")
    >>> with store.transaction() as tx:
    ...     store.create_run(tx, run_id="a1b2c3", pipeline="churn", params={}, started_at=now,
    ...                      executor="process", task_runs=[NewTaskRun("ingest", "ingest")])
    >>> store.get_run("a1b2").tasks["ingest"].status
    <TaskState.PENDING: 'pending'>
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = _engine_or_storage_error(url)
        self._reader = for_reads(self._engine)
        self._insert_artifact = _artifact_insert(self._engine.dialect.name)
        self._insert_attempt_once = _attempt_insert_once(self._engine.dialect.name)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MetadataStore({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on leaving.

        >>> with store.transaction() as tx:
        ...     store.start_attempt(tx, run_id, "fit", 1, started_at=now, log_path=None)
        """
        self._ensure_schema()
        try:
            with self._engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise self._storage_error(exc) from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (SQLite: a separate pool, so reads never wait on a writer)."""
        self._ensure_schema()
        try:
            with self._reader.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise self._storage_error(exc) from exc

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                ensure_schema(self._engine)
            except DBAPIError as exc:
                raise self._storage_error(exc) from exc
            self._schema_ready = True

    def _storage_error(self, exc: DBAPIError) -> StorageError:
        return StorageError(f"metadata database {self!r} failed: {exc.orig}")

    def dispose(self) -> None:
        """Close every pooled connection. The store can still be used afterwards."""
        self._engine.dispose()

    # -- cache (queries in cache.py) ----------------------------------------------------------

    def set_cache_key(
        self, tx: Connection, run_id: str, node: str, key: str, parts: Mapping[str, Any]
    ) -> None:
        """Record the cache key of ``node``'s call, so a later identical call can hit it."""
        cache.set_cache_key(tx, run_id, node, key, parts)

    def find_cache_hit(self, tx: Connection, task: str, key: str) -> CacheEntry | None:
        """The newest successful call of ``task`` with ``key`` (inside ``tx``), if any."""
        return cache.find_hit(tx, task, key)

    def mark_cache_hit(self, tx: Connection, run_id: str, node: str, entry: CacheEntry) -> None:
        """Record ``node`` as having taken the outputs of ``entry``."""
        self.record_outputs(tx, run_id, node, entry.outputs)
        cache.mark_hit(tx, run_id, node, entry)

    def cache_entry(self, run_id: str, node: str) -> tuple[str | None, Any, str | None]:
        """``(cache_key, cache_parts, cached_from)`` of ``node`` in ``run_id``."""
        with self.reading() as conn:
            return cache.entry_of(conn, run_id, node)

    def previous_cache_entry(self, task: str, node: str, run_id: str) -> CacheEntry | None:
        """The newest keyed call of ``task`` at ``node`` in a run older than ``run_id``."""
        with self.reading() as conn:
            return cache.previous_entry(conn, task, node, run_id)

    def clear_cache(self, task: str | None = None) -> int:
        """Forget cache entries (of ``task`` only, if given); the number forgotten."""
        with self.transaction() as tx:
            return cache.clear(tx, task)

    # -- lineage (queries in lineage.py) ------------------------------------------------------

    def artifact_producers(self, prefix: str) -> list[tuple[str, str, str]]:
        """``(hash, run, node)`` of task runs that output an artifact with this hash prefix."""
        with self.reading() as conn:
            return lineage.producers(conn, prefix)

    def dataset_readers(self, uri: str, version: str | None = None) -> list[tuple[str, str, str]]:
        """``(version, run, node)`` of task runs that read ``uri``."""
        with self.reading() as conn:
            return lineage.readers(conn, uri, version)

    def datasets_read(self, run_id: str, node: str) -> list[tuple[str, str]]:
        """``(uri, version)`` of the datasets ``node`` of ``run_id`` read."""
        with self.reading() as conn:
            return lineage.datasets_read(conn, run_id, node)

    def models_by_artifact(self, prefix: str) -> list[tuple[str, int]]:
        """``(name, version)`` of model versions whose artifact hash starts with ``prefix``."""
        with self.reading() as conn:
            return lineage.models_by_artifact(conn, prefix)

    def models_logged(self, run_id: str, node: str) -> list[tuple[str, int]]:
        """``(name, version)`` of the model versions ``node`` of ``run_id`` registered."""
        with self.reading() as conn:
            return lineage.models_logged(conn, run_id, node)

    # -- datasets (queries in datasets.py) ----------------------------------------------------

    def record_dataset_uses(
        self,
        tx: Connection,
        run_id: str,
        uses: Sequence[tuple[str, DatasetVersion]],
        at: datetime,
    ) -> None:
        """Record which node of ``run_id`` read which dataset version.

        >>> store.record_dataset_uses(tx, rid, [("ingest", version)], now)
        """
        record_dataset_uses(tx, run_id, uses, at)

    def list_dataset_versions(self, uri: str | None = None) -> list[DatasetVersionRecord]:
        """Recorded dataset versions with the runs that read each, by dataset.

        >>> [v.version[:12] for v in store.list_dataset_versions("/data/churn.csv")]
        """
        with self.reading() as conn:
            return list_dataset_versions(conn, uri)

    # -- writes -------------------------------------------------------------------------------

    def create_run(
        self,
        tx: Connection,
        *,
        run_id: str,
        pipeline: str,
        params: Mapping[str, Any],
        started_at: datetime,
        executor: str,
        task_runs: Sequence[NewTaskRun],
        status: RunState = RunState.RUNNING,
        parent_run_id: str | None = None,
        trigger: str = "manual",
        code_hash: str | None = None,
        environment: Mapping[str, Any] | None = None,
        runner: str | None = None,
        scheduled_for: datetime | None = None,
        source: str | None = None,
    ) -> None:
        """Record a new run and its nodes, in graph order.

        ``code_hash`` is the artifact hash of the run's code snapshot and ``environment``
        the Python version, platform and packages it ran with (see ``dagwell.tracking``).

        >>> store.create_run(tx, run_id=rid, pipeline="churn", params={"C": 0.5},
        ...                  started_at=now, executor="inline", task_runs=new_task_runs)
        """
        tx.execute(
            _INSERT_RUN,
            {
                "id": run_id,
                "pipeline": pipeline,
                "status": status.value,
                "params": dict(params),
                "started_at": started_at,
                "created_at": _now(),
                "executor": executor,
                "parent_run_id": parent_run_id,
                "trigger": trigger,
                "code_hash": code_hash,
                "environment": dict(environment) if environment is not None else None,
                "runner": runner,
                "scheduled_for": scheduled_for,
                "source": source,
            },
        )
        _insert_task_runs(tx, run_id, task_runs, first_seq=0)

    def add_task_runs(self, tx: Connection, run_id: str, task_runs: Sequence[NewTaskRun]) -> None:
        """Record more nodes of a running run: the children of a dynamic fan-out.

        >>> store.add_task_runs(tx, rid, [NewTaskRun("score[0]", "score", map_parent="score")])
        """
        if not task_runs:
            return
        first_seq = tx.execute(_NEXT_SEQ, {"b_run_id": run_id}).scalar_one()
        _insert_task_runs(tx, run_id, task_runs, first_seq=first_seq)

    def start_attempt(
        self,
        tx: Connection,
        run_id: str,
        node: str,
        number: int,
        *,
        started_at: datetime,
        log_path: str | None,
    ) -> None:
        """Record attempt ``number`` of ``node`` as running, and the node with it.

        >>> store.start_attempt(tx, rid, "fit", 1, started_at=now, log_path="logs/fit.1.log")
        """
        tx.execute(
            _INSERT_ATTEMPT,
            {
                "run_id": run_id,
                "node": node,
                "number": number,
                "status": AttemptState.RUNNING.value,
                "started_at": started_at,
                "log_path": log_path,
            },
        )
        tx.execute(
            _START_TASK,
            {"b_run_id": run_id, "b_node": node, "b_number": number, "b_started_at": started_at},
        )

    def finish_attempt(
        self,
        tx: Connection,
        run_id: str,
        node: str,
        number: int,
        *,
        status: AttemptState,
        ended_at: datetime,
        task_status: TaskState,
        error: str | None = None,
        traceback: str | None = None,
        outputs: Mapping[str, StoredValue] | None = None,
    ) -> bool:
        """Record the end of an attempt, its node's new state and its outputs, exactly once.

        Fenced: only an attempt still recorded as running is changed. A late or duplicate
        finish changes nothing and returns False; the first one returns True.

        >>> store.finish_attempt(tx, rid, "fit", 1, status=AttemptState.SUCCEEDED,
        ...                      ended_at=now, task_status=TaskState.SUCCEEDED,
        ...                      outputs={"return": stored})
        True
        """
        if status is AttemptState.RUNNING:
            raise ValueError("finish_attempt needs a final attempt status, not running")
        fenced = tx.execute(
            _FINISH_ATTEMPT,
            {
                "b_run_id": run_id,
                "b_node": node,
                "b_number": number,
                "b_status": status.value,
                "b_started_at": None,
                "b_ended_at": ended_at,
                "b_error": error,
                "b_traceback": traceback,
            },
        )
        if fenced.rowcount == 0:
            return False
        params: dict[str, Any] = {
            "b_run_id": run_id,
            "b_node": node,
            "b_status": task_status.value,
            "b_error": error,
        }
        if task_status.is_finished:
            params["b_ended_at"] = ended_at
            tx.execute(_SET_TASK_ENDED, params)
        else:
            tx.execute(_SET_TASK, params)
        if outputs:
            self._insert_outputs(tx, run_id, node, outputs)
        return True

    def record_attempts(
        self,
        tx: Connection,
        run_id: str,
        *,
        starts: Sequence[AttemptStart] = (),
        ends: Sequence[AttemptEnd] = (),
    ) -> list[bool]:
        """Record many attempt starts and ends in a few statements; the runner's hot path.

        Ends are fenced like :meth:`finish_attempt`: the returned list says, for each end,
        whether it was recorded (False: another writer already settled that attempt).

        >>> store.record_attempts(tx, rid, starts=[AttemptStart("fit", 1, now)],
        ...                       ends=[AttemptEnd("load", 1, AttemptState.SUCCEEDED, now,
        ...                                        TaskState.SUCCEEDED, outputs=outs)])
        [True]
        """
        if starts:
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
        if not ends:
            return []
        written = self._insert_finished_attempts(tx, run_id, [e for e in ends if e.start])
        recorded = [
            e.node in written if e.start else self._fence_attempt(tx, run_id, e) for e in ends
        ]
        done = [e for e, ok in zip(ends, recorded, strict=True) if ok]
        if done:
            tx.execute(_END_TASK, [_end_task_row(run_id, e) for e in done])
            with_outputs = [(e.node, e.outputs) for e in done if e.outputs]
            if with_outputs:
                self._insert_outputs_of(tx, run_id, with_outputs)
            self._insert_logged(tx, run_id, done)
            self.models.record(tx, run_id, done)
        return recorded

    def _insert_logged(self, tx: Connection, run_id: str, ends: Sequence[AttemptEnd]) -> None:
        """Params and metrics the attempts logged; a param logged again keeps the last value."""
        points = [
            {
                "run_id": run_id,
                "node": m.node,
                "name": m.name,
                "step": m.step,
                "value": m.value,
                "logged_at": m.time,
            }
            for e in ends
            for m in e.metrics
        ]
        if points:
            tx.execute(_INSERT_METRIC, points)
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

    def _fence_attempt(self, tx: Connection, run_id: str, end: AttemptEnd) -> bool:
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
        self, tx: Connection, run_id: str, ends: Sequence[AttemptEnd]
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
        if self._insert_attempt_once is None:
            tx.execute(_INSERT_ATTEMPT, rows)  # the primary key still refuses a duplicate
            return {end.node for end in ends}
        inserted = tx.execute(self._insert_attempt_once, rows).rowcount
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
        return {
            e.node for e in ends if current.get((e.node, e.number)) == (e.status.value, e.ended_at)
        }

    def set_task_status(
        self,
        tx: Connection,
        run_id: str,
        nodes: Sequence[str],
        status: TaskState,
        *,
        at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Set the state (and error) of ``nodes`` with no attempt involved; ``at`` is the end.

        >>> store.set_task_status(tx, rid, ["report", "notify"], TaskState.UPSTREAM_FAILED,
        ...                       at=now, error="upstream 'fit' failed")
        """
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

    def record_outputs(
        self, tx: Connection, run_id: str, node: str, outputs: Mapping[str, StoredValue]
    ) -> None:
        """Record outputs of a node that got them without an attempt (a gather, a cache hit).

        >>> store.record_outputs(tx, rid, "score", {"return": gathered})
        """
        if outputs:
            self._insert_outputs(tx, run_id, node, outputs)

    def finish_run(
        self,
        tx: Connection,
        run_id: str,
        *,
        status: RunState,
        ended_at: datetime,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """Record the end of a run and its return spec (JSON, refs marked by ``REF_MARKER``).

        >>> store.finish_run(tx, rid, status=RunState.SUCCEEDED, ended_at=now,
        ...                  result={"__dagwell_ref__": ["pick", "return"]})
        """
        done = tx.execute(
            _FINISH_RUN,
            {
                "b_run_id": run_id,
                "b_status": status.value,
                "b_ended_at": ended_at,
                "b_result": result,
                "b_error": error,
            },
        )
        if done.rowcount == 0:
            raise NotFoundError(f"no run with id {run_id!r}")

    def heartbeat(self, tx: Connection, run_id: str, at: datetime) -> None:
        """Record that the runner of ``run_id`` was alive at ``at``.

        >>> store.heartbeat(tx, rid, now)
        """
        done = tx.execute(_HEARTBEAT, {"b_run_id": run_id, "b_at": at})
        if done.rowcount == 0:
            raise NotFoundError(f"no run with id {run_id!r}")

    def _insert_outputs(
        self, tx: Connection, run_id: str, node: str, values: Mapping[str, StoredValue]
    ) -> None:
        self._insert_outputs_of(tx, run_id, [(node, values)])

    def _insert_outputs_of(
        self,
        tx: Connection,
        run_id: str,
        nodes: Sequence[tuple[str, Mapping[str, StoredValue]]],
    ) -> None:
        rows: list[dict[str, Any]] = []
        new_artifacts: dict[str, dict[str, Any]] = {}
        for node, values in nodes:
            self._output_rows(run_id, node, values, rows, new_artifacts)
        if new_artifacts:
            self._insert_artifacts(tx, list(new_artifacts.values()))
        tx.execute(_INSERT_OUTPUT, rows)

    @staticmethod
    def _output_rows(
        run_id: str,
        node: str,
        values: Mapping[str, StoredValue],
        rows: list[dict[str, Any]],
        new_artifacts: dict[str, dict[str, Any]],
    ) -> None:
        for position, (name, value) in enumerate(values.items()):
            artifact_hash = None
            if not value.is_inline:
                artifact_hash = value.hash
                if artifact_hash not in new_artifacts:
                    new_artifacts[artifact_hash] = {
                        "hash": artifact_hash,
                        "size": value.size,
                        "serializer": value.serializer,
                        "type_name": value.type_name,
                    }
            rows.append(
                {
                    "run_id": run_id,
                    "node": node,
                    "name": name,
                    "position": position,
                    "value": value.to_json(),
                    "artifact_hash": artifact_hash,
                }
            )

    def _insert_artifacts(self, tx: Connection, rows: list[dict[str, Any]]) -> None:
        now = _now()
        for row in rows:
            row["created_at"] = now
        if self._insert_artifact is not None:
            tx.execute(self._insert_artifact, rows)
            return
        # No portable "insert if absent": look first. Races need the dialect upserts above.
        known = set(
            tx.scalars(
                select(artifacts.c.hash).where(artifacts.c.hash.in_([r["hash"] for r in rows]))
            )
        )
        missing = [r for r in rows if r["hash"] not in known]
        if missing:
            tx.execute(insert(artifacts), missing)

    # -- reads --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with id ``run_id``, or with a unique id prefix of at least 4 characters.

        Raises :class:`~dagwell.errors.NotFoundError` when no run matches, or when a prefix
        matches several (the message lists them).

        >>> store.get_run("3f2a").tasks["fit"].attempts[-1].status
        <AttemptState.SUCCEEDED: 'succeeded'>
        """
        with self.reading() as conn:
            row: AnyRow | None = conn.execute(_SELECT_RUNS.where(runs.c.id == run_id)).first()
            if row is None:
                row = self._find_by_prefix(conn, run_id)
            found_id = row.id
            return _load_runs(conn, [row], lambda column: column == found_id)[0]

    def _find_by_prefix(self, conn: Connection, prefix: str) -> AnyRow:
        if len(prefix) < MIN_PREFIX:
            raise NotFoundError(
                f"no run with id {prefix!r} (an id prefix needs {MIN_PREFIX} characters or more)"
            )
        found = conn.execute(
            _SELECT_RUNS.where(runs.c.id.startswith(prefix, autoescape=True))
            .order_by(runs.c.id)
            .limit(11)
        ).all()
        # SQLite's LIKE ignores case; ids do not.
        matches = [row for row in found if row.id.startswith(prefix)]
        if not matches:
            raise NotFoundError(f"no run with id {prefix!r}")
        if len(matches) > 1:
            shown = ", ".join(row.id for row in matches[:10])
            more = ", ..." if len(matches) > 10 else ""
            raise NotFoundError(f"run id prefix {prefix!r} is ambiguous: {shown}{more}")
        return matches[0]

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | RunState | None = None,
        limit: int | None = 20,
        since: datetime | None = None,
        until: datetime | None = None,
        trigger: str | None = None,
        with_tasks: bool = False,
    ) -> list[Run]:
        """Runs, newest first (by creation time), optionally filtered.

        ``since`` and ``until`` keep runs created in ``[since, until)``; ``limit=None``
        returns all. Without
        ``with_tasks`` the runs' ``tasks`` are empty, which keeps listings fast.

        >>> [run.id for run in store.list_runs(pipeline="churn", status="failed", limit=5)]
        """
        query = select(runs.c.id)
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        if status is not None:
            query = query.where(runs.c.status == RunState(status).value)
        if since is not None:
            query = query.where(runs.c.created_at >= since)
        if until is not None:
            query = query.where(runs.c.created_at < until)
        if trigger is not None:
            query = query.where(runs.c.trigger == trigger)
        query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
        ids = query.subquery()
        with self.reading() as conn:
            run_rows = conn.execute(
                _SELECT_RUNS.join(ids, ids.c.id == runs.c.id).order_by(
                    runs.c.created_at.desc(), runs.c.id.desc()
                )
            ).all()
            if not with_tasks:
                return [_run(row, {}) for row in run_rows]
            return _load_runs(conn, run_rows, lambda column: column.in_(select(ids.c.id)))

    # -- models: the model registry's queries live in models.py ---------------------------------

    @property
    def models(self) -> ModelStore:
        """Registered models, their versions and aliases (see :class:`ModelStore`).

        >>> store.models.get("churn", alias="production").version
        """
        return ModelStore(self)


def _now() -> datetime:
    return datetime.now(timezone.utc)


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


def _engine_or_storage_error(url: str) -> Engine:
    """The engine for ``url``, or a StorageError saying what to fix (folder, driver, URL)."""
    safe = url.split("@")[-1] if "@" in url else url
    try:
        return make_engine(url)
    except ModuleNotFoundError as exc:
        raise StorageError(
            f"the database driver for {safe!r} is not installed ({exc.name}); for "
            "PostgreSQL: pip install 'psycopg[binary]'"
        ) from exc
    except OSError as exc:
        raise StorageError(
            f"cannot create the folder for the metadata database {safe!r}: {exc}; set "
            "DAGWELL_HOME or DAGWELL_DB_URL to a writable place"
        ) from exc
    except ArgumentError as exc:
        raise StorageError(f"{safe!r} is not a database URL SQLAlchemy understands: {exc}") from exc


def _attempt_insert_once(dialect: str) -> Executable | None:
    """INSERT of attempt rows that skips rows whose key exists, or None if unknown."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(attempts).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(attempts).on_conflict_do_nothing()
    return None


def _artifact_insert(dialect: str) -> Executable | None:
    """INSERT ... ON CONFLICT DO NOTHING for ``dialect``, or None if it has none we know."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(artifacts).on_conflict_do_nothing(index_elements=["hash"])
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(artifacts).on_conflict_do_nothing(index_elements=["hash"])
    return None


def _insert_task_runs(
    tx: Connection, run_id: str, new: Sequence[NewTaskRun], *, first_seq: int
) -> None:
    if not new:
        return
    tx.execute(
        _INSERT_TASK_RUN,
        [
            {
                "run_id": run_id,
                "node": t.node,
                "seq": seq,
                "task": t.task,
                "status": t.status.value,
                "upstream": list(t.upstream),
                "attempts": 0,
                "map_parent": t.map_parent,
                "map_index": t.map_index,
            }
            for seq, t in enumerate(new, start=first_seq)
        ],
    )


RunFilter = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Given a table's ``run_id`` column, the condition selecting the runs being read."""


def _load_runs(conn: Connection, run_rows: Sequence[AnyRow], runs_of: RunFilter) -> list[Run]:
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
        metrics_of[run_id].append(Metric(node, name, value, step, logged))
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
        _run(row, _with_children(row.id, tasks_of[row.id], children_of), metrics_of[row.id])
        for row in run_rows
    ]


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


def _run(row: AnyRow, tasks: Mapping[str, TaskRun], points: Sequence[Metric] = ()) -> Run:
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
    )
