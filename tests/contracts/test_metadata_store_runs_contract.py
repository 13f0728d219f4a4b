"""The metadata store's runs, on SQLite and on PostgreSQL: created, read back, looked up by
id or prefix, listed, moved between states, with their times kept in UTC.

Attempts and fencing are in ``test_metadata_store_attempts_contract.py``; outputs, params
and metrics in ``test_metadata_store_values_contract.py``. SQLite-only behaviour (WAL,
``BEGIN IMMEDIATE``, the file on disk) is tested in ``tests/unit/storage/metadata/test_store.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from metadata_helpers import INLINE, MODEL, T0, at, create, select_rows, succeed

from dagwell.core.records import Run
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.errors import NotFoundError
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun
from dagwell.storage.metadata.tables import runs, task_runs

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


def test_create_run_records_executor_trigger_and_parent(store: MetadataStore) -> None:
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

    child = store.get_run("child-run")
    assert child.status is RunState.QUEUED
    assert (child.parent_run_id, child.trigger) == ("parent-run", "schedule")
    query = sa.select(runs.c.id, runs.c.executor, runs.c.trigger).order_by(runs.c.id)
    assert select_rows(store, query) == [
        ("child-run", "inline", "schedule"),
        ("parent-run", "process", "manual"),
    ]


def test_fan_out_children_are_read_back_right_after_their_parent(store: MetadataStore) -> None:
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
    query = sa.select(task_runs.c.map_parent, task_runs.c.map_index, task_runs.c.seq).where(
        task_runs.c.node == "score[1]"
    )
    assert select_rows(store, query) == [("score", 1, 4)]


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
    (attempt,) = ingest.attempts
    assert (attempt.number, attempt.status) == (1, AttemptState.SUCCEEDED)
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


def test_long_and_unicode_text_is_kept_whole(store: MetadataStore) -> None:
    node = "étape-" + "n" * 500
    message = "ValueError: ünïcødé 🚀 " + "x" * 20_000
    create(store, "run-ü", nodes=(node,), pipeline="pipeline-日本")
    with store.transaction() as tx:
        store.set_task_status(tx, "run-ü", [node], TaskState.FAILED, at=at(1), error=message)

    run = store.get_run("run-ü")

    assert run.pipeline == "pipeline-日本"
    assert run.tasks[node].error == message


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

    assert "abcd1111, abcd2222" in str(caught.value)


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
    create(store, "ab%d3333")

    assert store.get_run("ab_d").id == "ab_d1111"  # "_" is no LIKE wildcard here
    assert store.get_run("ab%d").id == "ab%d3333"
    with pytest.raises(NotFoundError):
        store.get_run("ABXD")


# -- listing ------------------------------------------------------------------------------


def test_list_runs_returns_newest_first(store: MetadataStore) -> None:
    for i in range(5):
        create(store, f"run-{i}")

    assert [run.id for run in store.list_runs()] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert [run.id for run in store.list_runs(limit=2)] == ["run-4", "run-3"]
    assert len(store.list_runs(limit=None)) == 5


def test_list_runs_breaks_creation_time_ties_by_id(store: MetadataStore) -> None:
    for run_id in ("b", "c", "a"):
        create(store, run_id)
    with store.transaction() as tx:
        tx.execute(sa.update(runs).values(created_at=T0))

    assert [run.id for run in store.list_runs()] == ["c", "b", "a"]
    assert [run.id for run in store.list_runs(limit=2, with_tasks=True)] == ["c", "b"]


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
    assert [r.id for r in store.list_runs(until=middle)] == ["b-1", "a-1"]
    assert [r.id for r in store.list_runs(trigger="manual", limit=1)] == ["a-2"]
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


# -- states -------------------------------------------------------------------------------


def test_set_task_status_changes_several_nodes(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.set_task_status(
            tx, "run-0001", ["split", "fit"], TaskState.UPSTREAM_FAILED, at=at(7), error="no"
        )
        store.set_task_status(tx, "run-0001", ["ingest"], TaskState.CANCELLED)
        store.set_task_status(tx, "run-0001", [], TaskState.SKIPPED)

    found = store.get_run("run-0001").tasks

    assert [(t.status, t.ended_at, t.error) for t in found.values()] == [
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


def test_heartbeat_is_recorded(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        store.heartbeat(tx, "run-0001", at(30))

    assert store.get_run("run-0001").heartbeat_at == at(30)


def test_writes_to_an_unknown_run_raise_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="nope"), store.transaction() as tx:
        store.heartbeat(tx, "nope", at(1))
    with pytest.raises(NotFoundError, match="nope"), store.transaction() as tx:
        store.finish_run(tx, "nope", status=RunState.FAILED, ended_at=at(1))


# -- time ---------------------------------------------------------------------------------


def test_datetimes_are_stored_as_utc_and_read_back_aware(store: MetadataStore) -> None:
    paris = timezone(timedelta(hours=2))
    local_start = datetime(2026, 6, 1, 14, 0, 0, 123456, tzinfo=paris)
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
    assert started.microsecond == 123456


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
