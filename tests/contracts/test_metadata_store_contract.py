"""The metadata store's contract, on SQLite and on PostgreSQL: runs, task runs, attempts,
outputs, params and metrics are written, fenced and read back the same way on both.

SQLite-only behaviour (WAL, ``BEGIN IMMEDIATE``, the file on disk) is tested in
``tests/unit/storage/metadata/test_store.py``.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from metadata_helpers import INLINE, MODEL, T0, all_at_once, at, create, select_rows, succeed

from dagwell.core.records import AttemptEnd, AttemptStart, Metric, Run
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun
from dagwell.storage.metadata.tables import artifacts, attempts, outputs, runs, task_runs

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

    found = store.get_run("run-0001").tasks["fit"].attempts

    assert [a.number for a in found] == list(range(1, 12))


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


def short_end(node: str, status: AttemptState = AttemptState.SUCCEEDED) -> AttemptEnd:
    """An end of attempt 1 of ``node`` that carries its start (never recorded as running)."""
    ok = status is AttemptState.SUCCEEDED
    return AttemptEnd(
        node,
        1,
        status,
        at(2),
        TaskState.SUCCEEDED if ok else TaskState.FAILED,
        outputs={"return": INLINE} if ok else None,
        start=AttemptStart(node, 1, at(1)),
    )


def test_new_short_attempts_are_recorded_without_looking_them_up(store: MetadataStore) -> None:
    """The INSERT's row count says all rows were new, so no SELECT of attempts follows."""
    create(store)
    statements: list[str] = []

    def keep(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(store._engine, "before_cursor_execute", keep)
    try:
        with store.transaction() as tx:
            ends = [short_end(node) for node in ("ingest", "split", "fit")]
            assert store.record_attempts(tx, "run-0001", ends=ends) == [True, True, True]
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", keep)

    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")], statements


def test_a_batch_of_short_attempts_is_fenced_one_by_one(store: MetadataStore) -> None:
    create(store)
    with store.transaction() as tx:
        assert store.record_attempts(tx, "run-0001", ends=[short_end("split")]) == [True]

    late = short_end("split", AttemptState.FAILED)
    with store.transaction() as tx:
        recorded = store.record_attempts(tx, "run-0001", ends=[short_end("ingest"), late])

    assert recorded == [True, False]
    tasks = store.get_run("run-0001").tasks
    assert tasks["ingest"].status is TaskState.SUCCEEDED
    assert [a.status for a in tasks["split"].attempts] == [AttemptState.SUCCEEDED]
    assert tasks["split"].outputs == {"return": INLINE}


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


def test_two_writers_ending_one_attempt_at_once_record_it_once(db_url: str) -> None:
    """Two runners (a zombie and its replacement) report the same attempt together."""
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    try:
        create(stores[0])
        with stores[0].transaction() as tx:
            stores[0].record_attempts(tx, "run-0001", starts=[AttemptStart("fit", 1, at(1))])
        ends = [
            AttemptEnd("fit", 1, AttemptState.SUCCEEDED, at(2), TaskState.SUCCEEDED),
            AttemptEnd("fit", 1, AttemptState.FAILED, at(3), TaskState.FAILED, error="zombie"),
        ]

        def report(store: MetadataStore, end: AttemptEnd) -> list[bool]:
            with store.transaction() as tx:
                return store.record_attempts(tx, "run-0001", ends=[end])

        results = all_at_once(
            [lambda s=s, e=e: report(s, e) for s, e in zip(stores, ends, strict=True)]  # type: ignore[misc]
        )
        task = stores[0].get_run("run-0001").tasks["fit"]
    finally:
        for store in stores:
            store.dispose()

    assert sorted(results) == [[False], [True]]
    winner = ends[results.index([True])]
    assert [a.status for a in task.attempts] == [winner.status]
    assert task.status is winner.task_status


# -- outputs and artifacts ----------------------------------------------------------------


def test_outputs_record_artifacts_once_per_hash(store: MetadataStore) -> None:
    create(store)
    succeed(store, "run-0001", "ingest", a=MODEL, b=MODEL, c=INLINE)
    succeed(store, "run-0001", "split", again=MODEL)

    found = sa.select(artifacts.c.hash, artifacts.c.size, artifacts.c.serializer)
    assert select_rows(store, found.add_columns(artifacts.c.type_name)) == [
        ("h-model", 1234, "cloudpickle", "sklearn.LogisticRegression")
    ]
    query = sa.select(outputs.c.node, outputs.c.name, outputs.c.artifact_hash).order_by(
        outputs.c.node, outputs.c.name
    )
    assert select_rows(store, query) == [
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


def test_big_artifacts_keep_their_size(store: MetadataStore) -> None:
    huge = StoredValue("h-huge", "parquet", 5 * 2**40, "pandas.DataFrame")
    create(store)
    succeed(store, "run-0001", "ingest", frame=huge)

    assert store.get_run("run-0001").tasks["ingest"].outputs["frame"].size == 5 * 2**40


# -- params and metrics -------------------------------------------------------------------


def end_logging(node: str, number: int = 1, **logged: Any) -> AttemptEnd:
    """A successful end of ``node`` that logged ``params`` and ``metrics`` (as given)."""
    return AttemptEnd(
        node,
        number,
        AttemptState.SUCCEEDED,
        at(2),
        TaskState.SUCCEEDED,
        start=AttemptStart(node, number, at(1)),
        params=logged.get("params", {}),
        metrics=tuple(logged.get("metrics", ())),
    )


def test_params_of_every_json_type_read_back(store: MetadataStore) -> None:
    values = {
        "optimizer": "adam",
        "epochs": 10,
        "lr": 0.001,
        "nesterov": False,
        "schedule": None,
        "layers": [64, 32],
        "extra": {"dropout": 0.2, "names": ["a", "b"]},
        "text": "naïve ☃",
    }
    create(store)
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", params=values)])

    assert dict(store.get_run("run-0001").tasks["fit"].params) == values


def test_a_param_logged_again_by_a_later_attempt_keeps_the_last_value(
    store: MetadataStore,
) -> None:
    create(store)
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", params={"a": 1, "b": 1})])
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", 2, params={"a": 2})])

    assert dict(store.get_run("run-0001").tasks["fit"].params) == {"a": 2, "b": 1}


def test_nan_and_infinite_params_read_back_as_floats(store: MetadataStore) -> None:
    """PostgreSQL's JSON has no NaN: the store writes them in a form both backends keep."""
    odd = {"nan": math.nan, "inf": math.inf, "neg": -math.inf, "list": [1.0, math.nan]}
    create(store, params={"C": math.inf, "grid": [0.1, math.nan], "plain": {"x": 1}})
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", params=odd)])

    run = store.get_run("run-0001")
    params = run.tasks["fit"].params

    assert math.isnan(params["nan"]) and params["inf"] == math.inf and params["neg"] == -math.inf
    assert params["list"][0] == 1.0 and math.isnan(params["list"][1])
    assert run.params["C"] == math.inf and run.params["plain"] == {"x": 1}
    assert run.params["grid"][0] == 0.1 and math.isnan(run.params["grid"][1])
    assert store.list_runs()[0].params["C"] == math.inf


def test_metrics_read_back_in_logging_order_with_steps(store: MetadataStore) -> None:
    create(store)
    points = [Metric("fit", "loss", 1.0 / (s + 1), s, at(s)) for s in range(3)]
    points.append(Metric("fit", "accuracy", 0.9, None, at(5)))
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", metrics=points)])

    assert list(store.get_run("run-0001").metric_points) == points


def test_nan_and_infinite_metric_values_are_kept(store: MetadataStore) -> None:
    create(store)
    points = [
        Metric("fit", "loss", math.nan, 0, at(1)),
        Metric("fit", "loss", math.inf, 1, at(2)),
        Metric("fit", "loss", -math.inf, 2, at(3)),
        Metric("fit", "loss", 0.5, 3, at(4)),
    ]
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end_logging("fit", metrics=points)])

    found = store.get_run("run-0001").metric_points

    assert [(m.step, m.time) for m in found] == [(0, at(1)), (1, at(2)), (2, at(3)), (3, at(4))]
    values = [m.value for m in found]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.5]
    assert all(isinstance(v, float) for v in values)


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


# -- transactions and errors --------------------------------------------------------------


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

    with pytest.raises(StorageError, match=r"(?i)unique") as caught:
        create(store, "run-dup")

    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)
    assert store.get_run("run-dup").id == "run-dup"  # the store still works


def test_the_store_works_again_after_dispose(store: MetadataStore) -> None:
    create(store, "run-1")
    store.dispose()

    assert store.get_run("run-1").id == "run-1"


def test_two_stores_on_one_database_write_concurrently(db_url: str) -> None:
    """As two runner processes would: no write is lost, none fails."""
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    stores[0].list_runs()  # the schema, once
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(store: MetadataStore, name: str) -> None:
        try:
            barrier.wait()
            for i in range(40):
                run_id = f"{name}-{i:03d}"
                create(store, run_id, nodes=("a", "b"))
                succeed(store, run_id, "a", value=INLINE, model=MODEL)
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
        found = stores[0].list_runs(limit=None, with_tasks=True)
        attempt_rows = select_rows(stores[0], sa.select(sa.func.count()).select_from(attempts))
    finally:
        for store in stores:
            store.dispose()

    assert errors == []
    assert len(found) == 80
    assert all(run.tasks["a"].status is TaskState.SUCCEEDED for run in found)
    assert all(run.tasks["a"].outputs["model"] == MODEL for run in found)
    assert attempt_rows == [(80,)]
