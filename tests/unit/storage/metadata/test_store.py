"""MetadataStore against real SQLite files: writes, fencing, reads back as core records."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dagwell.core.records import AttemptEnd, AttemptStart, Run
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.metadata.engine import for_reads
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
INLINE = StoredValue("h-inline", "json", 2, "int", is_inline=True, inline=42)
MODEL = StoredValue("h-model", "cloudpickle", 1234, "sklearn.LogisticRegression")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dagwell.db'}"


@pytest.fixture
def store(url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(url)
    yield store
    store.dispose()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read raw rows through a separate engine, as another process would."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def create(
    store: MetadataStore,
    run_id: str = "run-0001",
    nodes: tuple[str, ...] = ("ingest", "split", "fit"),
    *,
    pipeline: str = "churn",
    status: RunState = RunState.RUNNING,
) -> None:
    task_runs = [
        NewTaskRun(node, node.split("-")[0], upstream=tuple(nodes[:i][-1:]))
        for i, node in enumerate(nodes)
    ]
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline=pipeline,
            params={"C": 0.5, "folds": 3},
            started_at=T0,
            executor="process",
            task_runs=task_runs,
            status=status,
        )


def succeed(store: MetadataStore, run_id: str, node: str, **outputs: StoredValue) -> bool:
    """Start attempt 1 of ``node`` and end it successfully; whether the end was recorded."""
    start = AttemptStart(node, 1, at(1), f"logs/{node}.1.log")
    end = AttemptEnd(node, 1, AttemptState.SUCCEEDED, at(2), TaskState.SUCCEEDED, outputs=outputs)
    with store.transaction() as tx:
        return store.record_attempts(tx, run_id, starts=[start], ends=[end]) == [True]


# -- create and read ----------------------------------------------------------------------


def test_create_run_reads_back_as_a_core_run(store: MetadataStore) -> None:
    create(store, nodes=("zeta", "alpha", "mid"))

    run = store.get_run("run-0001")

    assert isinstance(run, Run)
    assert run.id == "run-0001"
    assert run.pipeline == "churn"
    assert run.status is RunState.RUNNING
    assert run.params == {"C": 0.5, "folds": 3}
    assert run.started_at == T0
    assert run.ended_at is None
    assert run.result_spec is None
    assert run.loader is None
    assert list(run.tasks) == ["zeta", "alpha", "mid"]  # graph order, not sorted
    assert run.tasks["mid"].upstream == ("alpha",)
    assert run.tasks["mid"].task == "mid"
    assert all(t.status is TaskState.PENDING for t in run.tasks.values())
    assert all(t.attempts == () and dict(t.outputs) == {} for t in run.tasks.values())


def test_create_run_records_executor_trigger_and_parent(store: MetadataStore, url: str) -> None:
    create(store, "parent-run")
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id="child-run",
            pipeline="churn",
            params={},
            started_at=T0,
            executor="inline",
            task_runs=[],
            status=RunState.QUEUED,
            parent_run_id="parent-run",
            trigger="schedule",
        )

    assert store.get_run("child-run").status is RunState.QUEUED
    assert rows(url, "SELECT executor, trigger, parent_run_id FROM runs WHERE id='child-run'") == [
        ("inline", "schedule", "parent-run")
    ]
    assert rows(url, "SELECT trigger FROM runs WHERE id='parent-run'") == [("manual",)]


def test_fan_out_children_are_read_back_right_after_their_parent(
    store: MetadataStore, url: str
) -> None:
    create(store, nodes=("items", "score", "pick"))
    children = [
        NewTaskRun(f"score[{i}]", "score", upstream=("items",), map_parent="score", map_index=i)
        for i in range(3)
    ]
    with store.transaction() as tx:
        store.add_task_runs(tx, "run-0001", children[:2])
        store.add_task_runs(tx, "run-0001", children[2:])
        store.add_task_runs(tx, "run-0001", [])

    run = store.get_run("run-0001")

    assert list(run.tasks) == ["items", "score", "score[0]", "score[1]", "score[2]", "pick"]
    assert run.tasks["score[2]"].upstream == ("items",)
    assert run.tasks["score[2]"].map_parent == "score"
    assert rows(url, "SELECT map_parent, map_index FROM task_runs WHERE node='score[1]'") == [
        ("score", 1)
    ]


def test_get_run_reads_attempts_outputs_and_result(store: MetadataStore) -> None:
    create(store)
    assert succeed(store, "run-0001", "ingest", train=INLINE, model=MODEL)
    with store.transaction() as tx:
        store.finish_run(
            tx,
            "run-0001",
            status=RunState.SUCCEEDED,
            ended_at=at(9),
            result={"__dagwell_ref__": ["ingest", "model"]},
        )

    run = store.get_run("run-0001")
    ingest = run.tasks["ingest"]

    assert run.status is RunState.SUCCEEDED
    assert run.ended_at == at(9)
    assert run.result_spec == {"__dagwell_ref__": ["ingest", "model"]}
    assert ingest.status is TaskState.SUCCEEDED
    assert (ingest.started_at, ingest.ended_at) == (at(1), at(2))
    assert len(ingest.attempts) == 1
    attempt = ingest.attempts[0]
    assert attempt.number == 1
    assert attempt.status is AttemptState.SUCCEEDED
    assert (attempt.started_at, attempt.ended_at) == (at(1), at(2))
    assert attempt.log_path == "logs/ingest.1.log"
    assert list(ingest.outputs) == ["train", "model"]  # declared order
    assert ingest.outputs["train"] == INLINE
    assert ingest.outputs["model"] == MODEL
    assert run.output("ingest", "train") == 42


def test_get_run_reads_one_query_per_table(store: MetadataStore) -> None:
    nodes = tuple(f"n{i}" for i in range(50))
    create(store, nodes=nodes)
    for node in nodes:
        succeed(store, "run-0001", node, value=INLINE)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(store._engine, "before_cursor_execute", count)
    try:
        run = store.get_run("run-0001")
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", count)

    assert len(run.tasks) == 50
    assert len(statements) == 6  # runs, attempts, outputs, params, metrics, task_runs


# -- lookup by id and prefix --------------------------------------------------------------


def test_get_run_accepts_a_unique_prefix(store: MetadataStore) -> None:
    create(store, "3f2a9c0d")
    create(store, "77aa0011")

    assert store.get_run("3f2a").id == "3f2a9c0d"
    assert store.get_run("77aa00").id == "77aa0011"


def test_get_run_with_an_ambiguous_prefix_lists_the_candidates(store: MetadataStore) -> None:
    create(store, "abcd1111")
    create(store, "abcd2222")

    with pytest.raises(NotFoundError, match="ambiguous") as caught:
        store.get_run("abcd")

    assert "abcd1111" in str(caught.value) and "abcd2222" in str(caught.value)


def test_get_run_of_an_unknown_id_names_it(store: MetadataStore) -> None:
    create(store, "abcd1111")

    with pytest.raises(NotFoundError, match="'zzzz9999'"):
        store.get_run("zzzz9999")


def test_get_run_needs_four_characters_of_prefix(store: MetadataStore) -> None:
    create(store, "abcd1111")

    with pytest.raises(NotFoundError, match="'abc'"):
        store.get_run("abc")


def test_get_run_prefix_is_literal_and_case_sensitive(store: MetadataStore) -> None:
    create(store, "ab_d1111")
    create(store, "abxd2222")

    assert store.get_run("ab_d").id == "ab_d1111"  # "_" is no LIKE wildcard here
    with pytest.raises(NotFoundError):
        store.get_run("ABXD")


# -- listing ------------------------------------------------------------------------------


def test_list_runs_returns_newest_first(store: MetadataStore) -> None:
    for i in range(5):
        create(store, f"run-{i}")

    assert [run.id for run in store.list_runs()] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert [run.id for run in store.list_runs(limit=2)] == ["run-4", "run-3"]
    assert len(store.list_runs(limit=None)) == 5


def test_list_runs_filters_by_pipeline_status_and_time(store: MetadataStore) -> None:
    create(store, "a-1", pipeline="churn")
    create(store, "b-1", pipeline="fraud")
    middle = datetime.now(timezone.utc)
    create(store, "a-2", pipeline="churn")
    with store.transaction() as tx:
        store.finish_run(tx, "a-1", status=RunState.FAILED, ended_at=at(5), error="boom")

    assert [r.id for r in store.list_runs(pipeline="churn")] == ["a-2", "a-1"]
    assert [r.id for r in store.list_runs(status="failed")] == ["a-1"]
    assert [r.id for r in store.list_runs(status=RunState.RUNNING)] == ["a-2", "b-1"]
    assert [r.id for r in store.list_runs(pipeline="churn", status="running")] == ["a-2"]
    assert [r.id for r in store.list_runs(since=middle)] == ["a-2"]
    assert store.list_runs(pipeline="nope") == []
    assert store.list_runs(status="failed")[0].error == "boom"


def test_list_runs_rejects_an_unknown_status(store: MetadataStore) -> None:
    with pytest.raises(ValueError, match="sleeping"):
        store.list_runs(status="sleeping")


def test_list_runs_loads_tasks_only_when_asked(store: MetadataStore) -> None:
    create(store, "run-a", nodes=("x", "y"))
    create(store, "run-b", nodes=("p",))
    succeed(store, "run-a", "x", value=INLINE)

    bare = store.list_runs()
    full = store.list_runs(with_tasks=True, limit=1)
    both = store.list_runs(with_tasks=True)

    assert [dict(r.tasks) for r in bare] == [{}, {}]
    assert [r.id for r in full] == ["run-b"] and list(full[0].tasks) == ["p"]
    assert [list(r.tasks) for r in both] == [["p"], ["x", "y"]]
    assert both[1].tasks["x"].outputs["value"] == INLINE
    assert both[1] == store.get_run("run-a")


# -- attempts and fencing -----------------------------------------------------------------


def test_an_attempt_start_marks_the_task_running(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", starts=[AttemptStart("fit", 1, at(1))])

    task = store.get_run("run-0001").tasks["fit"]

    assert task.status is TaskState.RUNNING
    assert task.started_at == at(1)
    assert [(a.number, a.status, a.log_path) for a in task.attempts] == [
        (1, AttemptState.RUNNING, None)
    ]


def test_a_second_end_of_the_same_attempt_is_fenced_off(store: MetadataStore) -> None:
    create(store)
    assert succeed(store, "run-0001", "fit", value=INLINE)
    before = store.get_run("run-0001")
    late = AttemptEnd(
        "fit",
        1,
        AttemptState.FAILED,
        at(50),
        TaskState.FAILED,
        error="zombie",
        outputs={"value": MODEL},
    )

    with store.transaction() as tx:
        recorded = store.record_attempts(tx, "run-0001", ends=[late])

    assert recorded == [False]
    assert store.get_run("run-0001") == before


def test_ending_an_attempt_that_never_started_is_refused(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", starts=[AttemptStart("fit", 1, at(1))])
    before = store.get_run("run-0001")
    unknown = AttemptEnd(
        "fit", 2, AttemptState.SUCCEEDED, at(2), TaskState.SUCCEEDED, outputs={"value": INLINE}
    )

    with store.transaction() as tx:
        recorded = store.record_attempts(tx, "run-0001", ends=[unknown])

    assert recorded == [False]
    assert store.get_run("run-0001") == before


def test_retry_keeps_first_start_and_ends_only_when_finished(store: MetadataStore) -> None:
    create(store)
    failed = AttemptEnd(
        "fit",
        1,
        AttemptState.FAILED,
        at(2),
        TaskState.RETRYING,
        error="ValueError: bad",
        traceback="Traceback ...\nValueError: bad",
    )
    with store.transaction() as tx:
        store.record_attempts(
            tx, "run-0001", starts=[AttemptStart("fit", 1, at(1), "fit.1.log")], ends=[failed]
        )
    retrying = store.get_run("run-0001").tasks["fit"]
    succeeded = AttemptEnd(
        "fit", 2, AttemptState.SUCCEEDED, at(4), TaskState.SUCCEEDED, outputs={"return": INLINE}
    )
    with store.transaction() as tx:
        store.record_attempts(
            tx, "run-0001", starts=[AttemptStart("fit", 2, at(3), "fit.2.log")], ends=[succeeded]
        )
    done = store.get_run("run-0001").tasks["fit"]

    assert retrying.status is TaskState.RETRYING
    assert retrying.ended_at is None
    assert retrying.error == "ValueError: bad"
    assert done.status is TaskState.SUCCEEDED
    assert (done.started_at, done.ended_at) == (at(1), at(4))
    assert done.error is None
    assert [(a.number, a.status, a.log_path) for a in done.attempts] == [
        (1, AttemptState.FAILED, "fit.1.log"),
        (2, AttemptState.SUCCEEDED, "fit.2.log"),
    ]
    assert done.attempts[0].traceback == "Traceback ...\nValueError: bad"
    assert done.attempts[0].error == "ValueError: bad"


def test_attempts_come_back_ordered_by_number(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        for number in range(1, 12):
            store.record_attempts(tx, "run-0001", starts=[AttemptStart("fit", number, at(number))])

    attempts = store.get_run("run-0001").tasks["fit"].attempts

    assert [a.number for a in attempts] == list(range(1, 12))


# -- outputs and artifacts ----------------------------------------------------------------


def test_outputs_record_artifacts_once_per_hash(store: MetadataStore, url: str) -> None:
    create(store)
    succeed(store, "run-0001", "ingest", a=MODEL, b=MODEL, c=INLINE)
    succeed(store, "run-0001", "split", again=MODEL)

    assert rows(url, "SELECT hash, size, serializer, type_name FROM artifacts") == [
        ("h-model", 1234, "cloudpickle", "sklearn.LogisticRegression")
    ]
    assert sorted(rows(url, "SELECT node, name, artifact_hash FROM outputs")) == [
        ("ingest", "a", "h-model"),
        ("ingest", "b", "h-model"),
        ("ingest", "c", None),
        ("split", "again", "h-model"),
    ]


def test_record_outputs_stores_outputs_without_an_attempt(store: MetadataStore) -> None:
    create(store)
    gathered = StoredValue("h-list", "json", 7, "list", is_inline=True, inline=[1, 2], length=2)
    with store.transaction() as tx:
        store.record_outputs(tx, "run-0001", "split", {"return": gathered})
        store.set_task_status(tx, "run-0001", ["split"], TaskState.SUCCEEDED, at=at(3))

    task = store.get_run("run-0001").tasks["split"]

    assert task.outputs == {"return": gathered}
    assert task.attempts == ()
    assert task.status is TaskState.SUCCEEDED and task.ended_at == at(3)


# -- states -------------------------------------------------------------------------------


def test_set_task_status_changes_several_nodes(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.set_task_status(
            tx, "run-0001", ["split", "fit"], TaskState.UPSTREAM_FAILED, at=at(7), error="no"
        )
        store.set_task_status(tx, "run-0001", ["ingest"], TaskState.CANCELLED)
        store.set_task_status(tx, "run-0001", [], TaskState.SKIPPED)

    tasks = store.get_run("run-0001").tasks

    assert [(t.status, t.ended_at, t.error) for t in tasks.values()] == [
        (TaskState.CANCELLED, None, None),
        (TaskState.UPSTREAM_FAILED, at(7), "no"),
        (TaskState.UPSTREAM_FAILED, at(7), "no"),
    ]


def test_finish_run_records_failure(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.finish_run(tx, "run-0001", status=RunState.FAILED, ended_at=at(9), error="fit failed")

    run = store.get_run("run-0001")

    assert (run.status, run.ended_at, run.error, run.result_spec) == (
        RunState.FAILED,
        at(9),
        "fit failed",
        None,
    )


def test_heartbeat_is_recorded(store: MetadataStore, url: str) -> None:
    create(store)
    with store.transaction() as tx:
        store.heartbeat(tx, "run-0001", at(30))

    assert rows(url, "SELECT heartbeat_at FROM runs") == [("2026-01-02 03:04:35.678901",)]


def test_writes_to_an_unknown_run_raise_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="nope"), store.transaction() as tx:
        store.heartbeat(tx, "nope", at(1))
    with pytest.raises(NotFoundError, match="nope"), store.transaction() as tx:
        store.finish_run(tx, "nope", status=RunState.FAILED, ended_at=at(1))


# -- time ---------------------------------------------------------------------------------


def test_datetimes_are_stored_as_utc_and_read_back_aware(store: MetadataStore, url: str) -> None:
    paris = timezone(timedelta(hours=2))
    local_start = datetime(2026, 6, 1, 14, 0, tzinfo=paris)
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id="run-tz",
            pipeline="churn",
            params={},
            started_at=local_start,
            executor="inline",
            task_runs=[],
        )

    started = store.get_run("run-tz").started_at

    assert started == local_start
    assert started is not None and started.tzinfo == timezone.utc and started.hour == 12
    assert rows(url, "SELECT started_at FROM runs") == [("2026-06-01 12:00:00.000000",)]


def test_naive_datetimes_are_refused(store: MetadataStore) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"), store.transaction() as tx:
        store.create_run(
            tx,
            run_id="run-naive",
            pipeline="churn",
            params={},
            started_at=datetime(2026, 1, 1),
            executor="inline",
            task_runs=[],
        )
    assert store.list_runs() == []


# -- transactions and SQLite --------------------------------------------------------------


def test_a_failed_transaction_records_nothing(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.create_run(
            tx,
            run_id="run-x",
            pipeline="churn",
            params={},
            started_at=T0,
            executor="inline",
            task_runs=[NewTaskRun("a", "a")],
        )
        raise RuntimeError("runner crashed")

    assert store.list_runs() == []


def test_database_errors_become_storage_errors(store: MetadataStore) -> None:
    create(store, "run-dup")

    with pytest.raises(StorageError, match="UNIQUE") as caught:
        create(store, "run-dup")

    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)


def test_sqlite_connections_use_wal_and_the_pragmas(store: MetadataStore) -> None:
    store.list_runs()
    with store._engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }

    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "synchronous": 1,
    }


def test_write_transactions_take_the_write_lock_at_begin(store: MetadataStore, url: str) -> None:
    store.list_runs()
    other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        with store.transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        with for_reads(store._engine).connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM runs").scalar()
            other.execute("BEGIN IMMEDIATE")  # a read holds no write lock
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_the_database_folder_is_created(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'a' / 'b' / 'dagwell.db'}")
    try:
        assert store.list_runs() == []
    finally:
        store.dispose()

    assert (tmp_path / "a" / "b" / "dagwell.db").is_file()


def test_two_stores_on_one_file_write_concurrently_from_threads(url: str) -> None:
    stores = [MetadataStore(url), MetadataStore(url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(store: MetadataStore, name: str) -> None:
        try:
            barrier.wait()
            for i in range(40):
                run_id = f"{name}-{i:03d}"
                create(store, run_id, nodes=("a", "b"))
                succeed(store, run_id, "a", value=INLINE)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(store, name))
        for store, name in zip(stores, ("left", "right"), strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = stores[0].list_runs(limit=None, with_tasks=True)
    finally:
        for store in stores:
            store.dispose()

    assert errors == []
    assert len(runs) == 80
    assert all(run.tasks["a"].status is TaskState.SUCCEEDED for run in runs)


def test_the_store_works_again_after_dispose(store: MetadataStore) -> None:
    create(store, "run-1")
    store.dispose()

    assert store.get_run("run-1").id == "run-1"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_artifact_insert_ignores_existing_hashes(dialect: str) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from dagwell.storage.metadata.output_rows import artifact_insert

    statement = artifact_insert(dialect)
    compiled = str(
        statement.compile(dialect={"sqlite": sqlite, "postgresql": postgresql}[dialect].dialect())  # type: ignore[union-attr]
    )

    assert "ON CONFLICT (hash) DO NOTHING" in compiled


def test_artifacts_are_deduplicated_without_a_dialect_upsert(
    store: MetadataStore, url: str
) -> None:
    store._insert_artifact = None  # as for a database other than SQLite or PostgreSQL
    create(store)
    succeed(store, "run-0001", "ingest", a=MODEL, b=MODEL)
    succeed(store, "run-0001", "split", again=MODEL)

    assert rows(url, "SELECT hash FROM artifacts") == [("h-model",)]


def test_record_attempts_writes_a_short_attempt_once_already_finished(store: MetadataStore) -> None:
    create(store)
    start = AttemptStart("ingest", 1, at(1), "logs/ingest.1.log")
    end = AttemptEnd(
        "ingest",
        1,
        AttemptState.SUCCEEDED,
        at(2),
        TaskState.SUCCEEDED,
        outputs={"return": INLINE},
        start=start,
    )
    with store.transaction() as tx:
        assert store.record_attempts(tx, "run-0001", ends=[end]) == [True]

    task = store.get_run("run-0001").tasks["ingest"]
    assert task.status == TaskState.SUCCEEDED
    assert (task.started_at, task.ended_at) == (at(1), at(2))
    assert [(a.number, a.status, a.log_path) for a in task.attempts] == [
        (1, AttemptState.SUCCEEDED, "logs/ingest.1.log")
    ]
    assert task.outputs == {"return": INLINE}


def test_record_attempts_batches_starts_and_fences_ends(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.record_attempts(
            tx, "run-0001", starts=[AttemptStart("split", 1, at(1)), AttemptStart("fit", 1, at(1))]
        )
    running = store.get_run("run-0001").tasks
    assert running["split"].status == running["fit"].status == TaskState.RUNNING

    ends = [
        AttemptEnd("split", 1, AttemptState.FAILED, at(2), TaskState.RETRYING, error="E: x"),
        AttemptEnd(
            "fit", 1, AttemptState.SUCCEEDED, at(3), TaskState.SUCCEEDED, outputs={"model": MODEL}
        ),
    ]
    with store.transaction() as tx:
        assert store.record_attempts(tx, "run-0001", ends=ends) == [True, True]
    with store.transaction() as tx:  # a duplicate or late report changes nothing
        assert store.record_attempts(tx, "run-0001", ends=ends) == [False, False]

    tasks = store.get_run("run-0001").tasks
    assert tasks["split"].status == TaskState.RETRYING and tasks["split"].ended_at is None
    assert tasks["split"].attempts[0].error == "E: x"
    assert tasks["fit"].outputs == {"model": MODEL} and tasks["fit"].ended_at == at(3)


def test_a_finished_attempt_already_recorded_by_another_writer_is_not_overwritten(
    store: MetadataStore,
) -> None:
    create(store)
    start = AttemptStart("ingest", 1, at(1))
    first = AttemptEnd("ingest", 1, AttemptState.FAILED, at(2), TaskState.FAILED, start=start)
    late = AttemptEnd(
        "ingest",
        1,
        AttemptState.SUCCEEDED,
        at(5),
        TaskState.SUCCEEDED,
        outputs={"return": INLINE},
        start=start,
    )
    with store.transaction() as tx:
        assert store.record_attempts(tx, "run-0001", ends=[first]) == [True]
    with store.transaction() as tx:
        assert store.record_attempts(tx, "run-0001", ends=[late]) == [False]

    task = store.get_run("run-0001").tasks["ingest"]
    assert task.status == TaskState.FAILED and task.outputs == {}
    assert [a.status for a in task.attempts] == [AttemptState.FAILED]


@pytest.mark.parametrize(
    ("make_url", "message"),
    [
        (lambda tmp: f"sqlite:///{tmp / 'a-file' / 'dagwell.db'}", "cannot create the folder"),
        (lambda tmp: "not a url", "not a database URL"),
        (lambda tmp: "mssql+nosuchdriver://h/db", "not a database URL|driver"),
    ],
)
def test_a_bad_database_location_is_a_storage_error_saying_what_to_fix(
    tmp_path: Path, make_url: Any, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StorageError, match=message):
        MetadataStore(make_url(tmp_path))
