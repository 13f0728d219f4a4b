"""The metadata store's attempts and transactions, on SQLite and on PostgreSQL: attempts
start and end, late or duplicate ends are fenced off, concurrent writers lose nothing, and a
failed transaction records nothing.

SQLite-only behaviour (WAL, ``BEGIN IMMEDIATE``, the file on disk) is tested in
``tests/unit/storage/metadata/test_store.py``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from metadata_helpers import INLINE, MODEL, T0, all_at_once, at, create, select_rows, succeed

from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.states import AttemptState, TaskState
from dagwell.errors import StorageError
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun
from dagwell.storage.metadata.tables import attempts

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
