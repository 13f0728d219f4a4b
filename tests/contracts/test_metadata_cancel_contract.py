"""Cancel requests in the metadata store, on SQLite and on PostgreSQL: a queued run cancelled
at once and never claimed, a running run's request read back by its runner's heartbeat, and
a run without a runner settled; every write fenced, so a finished run never changes.

The runner acting on a request is tested end to end in
``tests/integration/test_integration_cancel.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from metadata_helpers import at, create, succeed

from dagwell.core.states import RunState
from dagwell.storage.metadata import cancel_requests, queue
from dagwell.storage.metadata.store import MetadataStore


def enqueue(store: MetadataStore, run_id: str) -> None:
    with store.transaction() as tx:
        assert queue.queue_run(
            tx,
            run_id=run_id,
            pipeline="nightly",
            params={},
            source="flows.py:nightly",
            trigger="manual",
            created_at=datetime.now(timezone.utc),
        )


def beat(store: MetadataStore, run_id: str, seconds: float) -> str | None:
    with store.transaction() as tx:
        return store.heartbeat(tx, run_id, at(seconds))


# -- queued runs ---------------------------------------------------------------------------


def test_a_queued_run_is_cancelled_at_once_and_never_claimed(store: MetadataStore) -> None:
    enqueue(store, "run-1")
    enqueue(store, "run-2")

    with store.transaction() as tx:
        assert cancel_requests.cancel_queued(
            tx, "run-1", by="alice", at=at(5), error="cancelled by alice"
        )

    run = store.get_run("run-1")
    assert (run.status, run.ended_at, run.error) == (
        RunState.CANCELLED,
        at(5),
        "cancelled by alice",
    )
    assert (run.cancel_requested_by, run.cancel_requested_at) == ("alice", at(5))
    with store.transaction() as tx:
        assert queue.queued_runs(tx, 10) == [("run-2", "nightly")]
        assert not queue.claim(tx, "run-1", runner="daemon:1", at=at(6))
    assert store.get_run("run-1").status is RunState.CANCELLED


def test_a_claimed_run_is_not_cancelled_as_queued_but_asked(store: MetadataStore) -> None:
    enqueue(store, "run-1")
    with store.transaction() as tx:
        assert queue.claim(tx, "run-1", runner="daemon:1", at=at(1))
        assert not cancel_requests.cancel_queued(
            tx, "run-1", by="alice", at=at(2), error="cancelled by alice"
        )
        assert cancel_requests.request_cancel(tx, "run-1", by="alice", at=at(2))

    run = store.get_run("run-1")
    assert (run.status, run.cancel_requested_by) == (RunState.RUNNING, "alice")


# -- running runs --------------------------------------------------------------------------


def test_the_heartbeat_reads_back_who_asked_to_cancel_the_run(store: MetadataStore) -> None:
    create(store, "run-1")
    create(store, "run-2")
    assert beat(store, "run-1", 10) is None

    with store.transaction() as tx:
        assert cancel_requests.request_cancel(tx, "run-1", by="alice", at=at(11))

    assert beat(store, "run-1", 12) == "alice"
    assert beat(store, "run-2", 12) is None
    run = store.get_run("run-1")
    assert (run.status, run.heartbeat_at) == (RunState.RUNNING, at(12))
    assert (run.cancel_requested_by, run.cancel_requested_at) == ("alice", at(11))
    assert run.to_dict(with_tasks=False)["cancel_requested_by"] == "alice"
    assert store.get_run("run-2").cancel_requested_by is None


def test_the_first_request_stands(store: MetadataStore) -> None:
    create(store, "run-1")
    with store.transaction() as tx:
        assert cancel_requests.request_cancel(tx, "run-1", by="alice", at=at(1))
        assert not cancel_requests.request_cancel(tx, "run-1", by="bob", at=at(2))

    run = store.get_run("run-1")
    assert (run.cancel_requested_by, run.cancel_requested_at) == ("alice", at(1))


def test_a_finished_run_takes_no_request(store: MetadataStore) -> None:
    create(store, "run-1", nodes=["ingest"])
    succeed(store, "run-1", "ingest")
    with store.transaction() as tx:
        store.finish_run(tx, "run-1", status=RunState.SUCCEEDED, ended_at=at(3))

    with store.transaction() as tx:
        assert not cancel_requests.request_cancel(tx, "run-1", by="alice", at=at(4))
        assert not cancel_requests.cancel_queued(tx, "run-1", by="alice", at=at(4), error="x")
        assert not cancel_requests.cancel_running(
            tx, "run-1", runner=None, by="alice", at=at(4), error="x"
        )

    run = store.get_run("run-1")
    assert (run.status, run.error, run.cancel_requested_by) == (RunState.SUCCEEDED, None, None)


def test_a_run_whose_runner_is_gone_is_settled_once_fenced_on_its_runner(
    store: MetadataStore,
) -> None:
    enqueue(store, "run-1")
    with store.transaction() as tx:
        queue.claim(tx, "run-1", runner="host:1", at=at(1))
        assert cancel_requests.request_cancel(tx, "run-1", by="alice", at=at(2))

    with store.transaction() as tx:  # another process has taken it up since it was read
        assert not cancel_requests.cancel_running(
            tx, "run-1", runner="host:2", by="bob", at=at(3), error="cancelled by bob"
        )
    with store.transaction() as tx:
        assert cancel_requests.cancel_running(
            tx, "run-1", runner="host:1", by="bob", at=at(3), error="cancelled by bob"
        )
        assert not cancel_requests.cancel_running(
            tx, "run-1", runner="host:1", by="bob", at=at(4), error="again"
        )

    run = store.get_run("run-1")
    assert (run.status, run.ended_at, run.error) == (RunState.CANCELLED, at(3), "cancelled by bob")
    # The earlier request stands as the record of who asked first.
    assert (run.cancel_requested_by, run.cancel_requested_at) == ("alice", at(2))


def test_settling_a_run_without_a_request_records_who_cancelled_it(store: MetadataStore) -> None:
    create(store, "run-1")  # recorded without a runner

    with store.transaction() as tx:
        assert cancel_requests.cancel_running(
            tx, "run-1", runner=None, by="bob", at=at(3), error="cancelled by bob"
        )

    run = store.get_run("run-1")
    assert (run.status, run.cancel_requested_by, run.cancel_requested_at) == (
        RunState.CANCELLED,
        "bob",
        at(3),
    )
