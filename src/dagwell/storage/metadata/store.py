"""The metadata store: run, task-run, attempt and output rows in, core records out.

Writes take an open transaction (from :meth:`MetadataStore.transaction`) as their first
argument, so the runner can batch several state changes into one commit. Reads open their
own short connection and return :class:`~dagwell.core.records.Run` values. Statements are
SQLAlchemy Core constructs built once at import; SQLAlchemy caches their compiled form.

The rows behind the methods live beside this module: attempts and node states in
``task_progress.py``, outputs and artifacts in ``output_rows.py``, reading runs back in
``run_rows.py`` (and cache, lineage, datasets and models in modules of those names).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from dagwell.core.datasets import DatasetVersion
from dagwell.core.records import AttemptEnd, AttemptStart, Run
from dagwell.core.states import RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.metadata import cache, lineage, output_rows, task_progress
from dagwell.storage.metadata.cache import CacheEntry
from dagwell.storage.metadata.datasets import (
    DatasetVersionRecord,
    list_dataset_versions,
    record_dataset_uses,
)
from dagwell.storage.metadata.engine import for_reads, make_engine
from dagwell.storage.metadata.migrate import SchemaStatus, ensure_schema, schema_status
from dagwell.storage.metadata.models import ModelStore
from dagwell.storage.metadata.run_rows import SELECT_RUNS, load_runs, run_record
from dagwell.storage.metadata.tables import UTCDateTime, runs, task_runs

if TYPE_CHECKING:
    from dagwell.storage.metadata.run_rows import AnyRow

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


_INSERT_RUN = insert(runs)
_INSERT_TASK_RUN = insert(task_runs)
_NEXT_SEQ = select(func.coalesce(func.max(task_runs.c.seq) + 1, 0)).where(
    task_runs.c.run_id == bindparam("b_run_id", type_=String())
)
_FINISH_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id", type_=String()))
    .values(
        status=bindparam("b_status", type_=String()),
        ended_at=bindparam("b_ended_at", type_=UTCDateTime()),
        result=bindparam("b_result", type_=runs.c.result.type),
        error=bindparam("b_error", type_=String()),
    )
)
_HEARTBEAT = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id", type_=String()))
    .values(heartbeat_at=bindparam("b_at", type_=UTCDateTime()))
)
# The beat reads back who asked to cancel the run (cancel_requests.py), in the same statement.
_HEARTBEAT_RETURNING = _HEARTBEAT.returning(runs.c.cancel_requested_by)
_CANCEL_REQUESTED_BY = select(runs.c.cancel_requested_by).where(
    runs.c.id == bindparam("b_run_id", type_=String())
)


class MetadataStore:
    """Runs, task runs, attempts and outputs in a SQL database (SQLite or PostgreSQL).

    The schema is migrated to the current revision on first use. Writes go through
    :meth:`transaction`; reads return core records. SQLite and PostgreSQL behave alike,
    down to NaN and infinite values: metric values keep them, and params (pipeline and
    logged) holding them are stored as strict JSON (see ``json_values.py``) and read back
    as the same floats, where PostgreSQL's JSON would refuse them.

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
        self._insert_artifact = output_rows.artifact_insert(self._engine.dialect.name)
        self._insert_attempt_once = task_progress.attempt_insert_once(self._engine.dialect.name)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MetadataStore({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on leaving.

        >>> with store.transaction() as tx:
        ...     store.record_attempts(tx, run_id, starts=[AttemptStart("fit", 1, now)])
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
        safe = self._engine.url.render_as_string(hide_password=True)
        detail = _one_line(str(exc.orig))
        if exc.statement is None:  # it failed connecting, before any statement
            # The URL already names the host and port libpq repeats.
            detail = re.sub(r'^connection to server at "[^"]*", port \d+ failed: ', "", detail)
            return StorageError(
                f"cannot connect to the metadata database {safe}: {detail} "
                "(check the server, and the URL in DAGWELL_DB_URL or --db-url)"
            )
        return StorageError(f"metadata database {safe} failed: {detail}")

    # -- schema -------------------------------------------------------------------------------

    def schema_status(self) -> SchemaStatus:
        """Where the database's schema stands (revision, upgrade pending); changes nothing.

        >>> store.schema_status().pending
        False
        """
        try:
            return schema_status(self._engine)
        except DBAPIError as exc:
            raise self._storage_error(exc) from exc

    def upgrade_schema(self) -> tuple[SchemaStatus, SchemaStatus]:
        """Bring the schema to the newest revision now; its status before and after.

        The store does this on first use anyway; ``dagwell db upgrade`` does it up front, so
        a team can migrate a shared database once, before its runners and schedulers start.

        >>> before, after = store.upgrade_schema()
        """
        before = self.schema_status()
        with self._schema_lock:
            self._schema_ready = False
        self._ensure_schema()
        return before, self.schema_status()

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

    def record_attempts(
        self,
        tx: Connection,
        run_id: str,
        *,
        starts: Sequence[AttemptStart] = (),
        ends: Sequence[AttemptEnd] = (),
    ) -> list[bool]:
        """Record many attempt starts and ends in a few statements; the runner's hot path.

        Ends are fenced: only an attempt still recorded as running (or, for an end that
        carries its start, not recorded at all) is changed, so a late or duplicate end
        changes nothing. The returned list says, for each end, whether it was recorded
        (False: another writer already settled that attempt).

        >>> store.record_attempts(tx, rid, starts=[AttemptStart("fit", 1, now)],
        ...                       ends=[AttemptEnd("load", 1, AttemptState.SUCCEEDED, now,
        ...                                        TaskState.SUCCEEDED, outputs=outs)])
        [True]
        """
        if starts:
            task_progress.record_starts(tx, run_id, starts)
        if not ends:
            return []
        recorded = task_progress.record_ends(tx, run_id, ends, self._insert_attempt_once)
        done = [e for e, ok in zip(ends, recorded, strict=True) if ok]
        if done:
            with_outputs = [(e.node, e.outputs) for e in done if e.outputs]
            if with_outputs:
                output_rows.insert_outputs(tx, run_id, with_outputs, self._insert_artifact)
            task_progress.record_logged(tx, run_id, done)
            self.models.record(tx, run_id, done)
        return recorded

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
        task_progress.set_status(tx, run_id, nodes, status, at=at, error=error)

    def record_outputs(
        self, tx: Connection, run_id: str, node: str, outputs: Mapping[str, StoredValue]
    ) -> None:
        """Record outputs of a node that got them without an attempt (a gather, a cache hit).

        >>> store.record_outputs(tx, rid, "score", {"return": gathered})
        """
        if outputs:
            output_rows.insert_outputs(tx, run_id, [(node, outputs)], self._insert_artifact)

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

    def heartbeat(self, tx: Connection, run_id: str, at: datetime) -> str | None:
        """Record that the runner of ``run_id`` was alive at ``at``; return who asked to
        cancel the run (see ``cancel_requests.py``), or None while nobody has.

        One statement where the database can return from an UPDATE (SQLite, PostgreSQL).

        >>> store.heartbeat(tx, rid, now)
        'alice'
        """
        values = {"b_run_id": run_id, "b_at": at}
        if tx.dialect.update_returning:
            row = tx.execute(_HEARTBEAT_RETURNING, values).first()
            if row is None:
                raise NotFoundError(f"no run with id {run_id!r}")
            by: str | None = row.cancel_requested_by
            return by
        done = tx.execute(_HEARTBEAT, values)
        if done.rowcount == 0:
            raise NotFoundError(f"no run with id {run_id!r}")
        found: str | None = tx.execute(_CANCEL_REQUESTED_BY, {"b_run_id": run_id}).scalar()
        return found

    def _insert_artifacts(self, tx: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert artifact rows not recorded yet (the model registry's versions use it)."""
        output_rows.insert_artifacts(tx, rows, self._insert_artifact)

    # -- reads --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with id ``run_id``, or with a unique id prefix of at least 4 characters.

        Raises :class:`~dagwell.errors.NotFoundError` when no run matches, or when a prefix
        matches several (the message lists them).

        >>> store.get_run("3f2a").tasks["fit"].attempts[-1].status
        <AttemptState.SUCCEEDED: 'succeeded'>
        """
        with self.reading() as conn:
            row: AnyRow | None = conn.execute(SELECT_RUNS.where(runs.c.id == run_id)).first()
            if row is None:
                row = self._find_by_prefix(conn, run_id)
            found_id = row.id
            return load_runs(conn, [row], lambda column: column == found_id)[0]

    def run_exists(self, run_id: str) -> bool:
        """Whether a run with exactly the id ``run_id`` is recorded.

        >>> store.run_exists("3f2a9c1d0e7b")
        True
        """
        with self.reading() as conn:
            return conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is not None

    def _find_by_prefix(self, conn: Connection, prefix: str) -> AnyRow:
        if len(prefix) < MIN_PREFIX:
            raise NotFoundError(
                f"no run with id {prefix!r} (an id prefix needs {MIN_PREFIX} characters or more)"
            )
        found = conn.execute(
            SELECT_RUNS.where(runs.c.id.startswith(prefix, autoescape=True))
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
        offset: int = 0,
        after: str | None = None,
    ) -> list[Run]:
        """Runs, newest first (by creation time), optionally filtered.

        ``since`` and ``until`` keep runs created in ``[since, until)``; ``limit=None``
        returns all. Without ``with_tasks`` the runs' ``tasks`` are empty, which keeps
        listings fast. Pages: skip ``offset`` runs, or (faster on deep pages) start after
        the run with id ``after``, the last one of the previous page.

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
        if after is not None:
            query = query.where(_after(after))
        query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
        if offset:
            query = query.offset(offset)
        ids = query.subquery()
        with self.reading() as conn:
            run_rows = conn.execute(
                SELECT_RUNS.join(ids, ids.c.id == runs.c.id).order_by(
                    runs.c.created_at.desc(), runs.c.id.desc()
                )
            ).all()
            if not with_tasks:
                return [run_record(row, {}) for row in run_rows]
            return load_runs(conn, run_rows, lambda column: column.in_(select(ids.c.id)))

    # -- models: the model registry's queries live in models.py ---------------------------------

    @property
    def models(self) -> ModelStore:
        """Registered models, their versions and aliases (see :class:`ModelStore`).

        >>> store.models.get("churn", alias="production").version
        """
        return ModelStore(self)


def _after(run_id: str) -> ColumnElement[bool]:
    """Runs listed after ``run_id`` newest first: older, or as old with a smaller id."""
    pivot = select(runs.c.created_at).where(runs.c.id == run_id).scalar_subquery()
    return or_(
        runs.c.created_at < pivot,
        and_(runs.c.created_at == pivot, runs.c.id < run_id),
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _one_line(message: str) -> str:
    """A driver's message on one line: libpq spreads its hints over tab-indented lines."""
    text = ""
    for line in (" ".join(line.split()) for line in message.splitlines()):
        if text and line[:1].isupper() and text[-1] not in ".?!:;":
            text += "."  # a new sentence on the next line
        text = f"{text} {line}".strip()
    return text.replace("FATAL: ", "").removeprefix("connection failed: ")


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
