"""The metadata store's scheduling rows, on SQLite and on PostgreSQL: the run queue and its
claims, registered pipelines and load errors, pools and their leases, recorded alerts.

Several schedulers racing on PostgreSQL are tested end to end in
``tests/integration/test_integration_postgres_scheduling.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from metadata_helpers import T0, at, create, overlapping

from dagwell.core.alerts import Alert, AlertKind
from dagwell.core.states import RunState
from dagwell.errors import NotFoundError
from dagwell.storage.metadata import alerts, pools, queue, registered
from dagwell.storage.metadata.registered import RegisteredPipeline
from dagwell.storage.metadata.store import MetadataStore

# -- the run queue ------------------------------------------------------------------------


def enqueue(
    store: MetadataStore, run_id: str, *, pipeline: str = "nightly", moment: float | None = None
) -> bool:
    """Queue a run of ``pipeline``; with ``moment``, for that logical time (keyed)."""
    scheduled = None if moment is None else at(moment)
    with store.transaction() as tx:
        return queue.queue_run(
            tx,
            run_id=run_id,
            pipeline=pipeline,
            params={"day": "2026-01-02", "rate": float("nan")},
            source="flows.py:nightly",
            trigger="schedule" if scheduled else "manual",
            created_at=datetime.now(timezone.utc),
            scheduled_for=scheduled,
            key=None if scheduled is None else queue.claim_key(pipeline, scheduled),
        )


def test_a_logical_time_is_queued_once(store: MetadataStore) -> None:
    assert enqueue(store, "run-1", moment=0)
    assert not enqueue(store, "run-2", moment=0)
    assert enqueue(store, "run-3", moment=1)
    assert enqueue(store, "run-4") and enqueue(store, "run-5")  # unkeyed: always

    run = store.get_run("run-1")
    assert (run.status, run.scheduled_for, run.source) == (
        RunState.QUEUED,
        at(0),
        "flows.py:nightly",
    )
    assert run.params["rate"] != run.params["rate"]  # NaN, read back
    keys = [queue.claim_key("nightly", at(s)) for s in (0, 1, 2)]
    with store.reading() as conn:
        assert queue.scheduled_times(conn, "nightly", keys) == set(keys[:2])
        assert queue.scheduled_times(conn, "other", keys) == set()


def test_queued_runs_come_oldest_first_and_skip_pipelines_at_their_limit(
    store: MetadataStore,
) -> None:
    for i, pipeline in enumerate(["a", "b", "a", "c"]):
        enqueue(store, f"run-{i}", pipeline=pipeline)

    with store.transaction() as tx:
        assert queue.queued_runs(tx, 10) == [
            ("run-0", "a"),
            ("run-1", "b"),
            ("run-2", "a"),
            ("run-3", "c"),
        ]
        assert queue.queued_runs(tx, 2, skip={"a"}) == [("run-1", "b"), ("run-3", "c")]
    with store.reading() as conn:
        assert queue.any_queued(conn)


def test_a_queued_run_is_claimed_once_then_started_and_counted(store: MetadataStore) -> None:
    enqueue(store, "run-1")
    enqueue(store, "run-2")
    with store.transaction() as tx:
        assert queue.claim(tx, "run-1", runner="host:1", at=at(1))
        assert not queue.claim(tx, "run-1", runner="host:2", at=at(2))
        assert queue.start_claimed(
            tx,
            "run-1",
            executor="process",
            started_at=at(3),
            runner="host:9",
            code_hash="h-code",
            environment={"python": "3.11"},
        )
        assert not queue.start_claimed(
            tx,
            "run-2",
            executor="process",
            started_at=at(3),
            runner="host:9",
            code_hash=None,
            environment=None,
        )

    run = store.get_run("run-1")
    assert (run.status, run.runner, run.started_at, run.heartbeat_at) == (
        RunState.RUNNING,
        "host:9",
        at(3),
        at(3),
    )
    assert (run.code_hash, run.environment) == ("h-code", {"python": "3.11"})
    with store.reading() as conn:
        assert queue.active_counts(conn, ["nightly", "other"]) == {"nightly": 1}
        assert queue.active_counts(conn, []) == {}
        assert queue.daemon_runs(conn) == ["run-1"]
    with store.transaction() as tx:
        assert queue.queued_runs(tx, 10) == [("run-2", "nightly")]


def test_a_running_run_can_be_failed_once(store: MetadataStore) -> None:
    enqueue(store, "run-1")
    with store.transaction() as tx:
        assert not queue.end_running(tx, "run-1", error="never started", at=at(1))
        queue.claim(tx, "run-1", runner="host:1", at=at(1))
        assert queue.end_running(tx, "run-1", error="its process died", at=at(2))
        assert not queue.end_running(tx, "run-1", error="again", at=at(3))

    run = store.get_run("run-1")
    assert (run.status, run.error, run.ended_at) == (RunState.FAILED, "its process died", at(2))


def test_two_claimers_holding_the_queue_never_share_a_run(db_url: str) -> None:
    """On PostgreSQL the second claimer skips the rows the first locked; on SQLite it waits."""
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    claimed: dict[str, list[str]] = {"first": [], "second": []}
    try:
        for i in range(4):
            enqueue(stores[0], f"run-{i}")

        def take(who: str, limit: int) -> object:
            def claim_some(tx: object) -> None:
                for run_id, _ in queue.queued_runs(tx, limit):  # type: ignore[arg-type]
                    if queue.claim(tx, run_id, runner=who, at=at(1)):  # type: ignore[arg-type]
                        claimed[who].append(run_id)

            return claim_some

        overlapping(stores[0], take("first", 2), stores[1], take("second", 4))
    finally:
        for store in stores:
            store.dispose()

    assert claimed["first"] == ["run-0", "run-1"]
    assert claimed["second"] == ["run-2", "run-3"]


# -- registered pipelines and load errors -------------------------------------------------


NIGHTLY = RegisteredPipeline(
    name="nightly",
    source="flows.py:nightly",
    description="Trains every night.",
    params=[{"name": "day", "type": "str", "default": None}],
    max_active_runs=2,
    schedule="0 3 * * *",
    timezone="Europe/Paris",
    start_at=at(0),
    catchup=False,
    schedule_params={"day": "today"},
    last_scheduled_for=None,
    next_due_at=at(3600),
    active=True,
    updated_at=at(0),
)


def test_a_registration_is_saved_replaced_and_read_back(store: MetadataStore) -> None:
    on_demand = replace(NIGHTLY, name="adhoc", schedule=None, timezone=None, next_due_at=None)
    with store.transaction() as tx:
        registered.save_pipeline(tx, NIGHTLY)
        registered.save_pipeline(tx, on_demand)
        registered.save_pipeline(tx, replace(NIGHTLY, max_active_runs=5, catchup=True))

    with store.reading() as conn:
        found = registered.get_pipeline(conn, "nightly")
        names = [p.name for p in registered.list_pipelines(conn)]
        missing = registered.get_pipeline(conn, "nope")

    assert found == replace(NIGHTLY, max_active_runs=5, catchup=True)
    assert found is not None and found.catchup is True and found.active is True
    assert names == ["adhoc", "nightly"]
    assert missing is None


def test_schedules_move_on_and_gone_pipelines_turn_inactive(store: MetadataStore) -> None:
    with store.transaction() as tx:
        registered.save_pipeline(tx, NIGHTLY)
        registered.save_pipeline(tx, replace(NIGHTLY, name="gone", source="old.py:gone"))
        registered.set_next_due(tx, "nightly", next_due_at=at(7200), last_scheduled_for=at(3600))
        registered.set_next_due(tx, "gone", next_due_at=at(60), last_scheduled_for=None)
        registered.lock_pipelines(tx, ["nightly", "gone"])
        registered.deactivate_others(tx, lambda path: path == "old.py", keep=["nightly"])

    with store.reading() as conn:
        active = registered.list_pipelines(conn)
        every = registered.list_pipelines(conn, active_only=False)

    assert [(p.name, p.next_due_at, p.last_scheduled_for) for p in active] == [
        ("nightly", at(7200), at(3600))
    ]
    assert [(p.name, p.active, p.next_due_at) for p in every] == [
        ("gone", False, at(60)),
        ("nightly", True, at(7200)),
    ]
    assert every[1].to_dict()["next_due_at"] == at(7200).isoformat()


def test_load_errors_are_kept_until_the_file_loads(store: MetadataStore) -> None:
    with store.transaction() as tx:
        registered.record_load_error(tx, "b.py", "SyntaxError: oops", at(1))
        registered.record_load_error(tx, "a.py", "ImportError: x", at(1))
        registered.record_load_error(tx, "b.py", "NameError: y", at(2))
    with store.reading() as conn:
        assert registered.list_load_errors(conn) == [
            ("a.py", "ImportError: x", at(1)),
            ("b.py", "NameError: y", at(2)),
        ]
    with store.transaction() as tx:
        registered.clear_load_errors(tx, ["a.py", "c.py"])
        registered.clear_load_errors(tx, [])
    with store.reading() as conn:
        assert [path for path, _, _ in registered.list_load_errors(conn)] == ["b.py"]


# -- pools --------------------------------------------------------------------------------


def create_run(store: MetadataStore, run_id: str) -> None:
    create(store, run_id, ("fit",), pipeline="train")


def acquire(store: MetadataStore, run_id: str, node: str, pool: str = "gpu") -> bool:
    with store.transaction() as tx:
        return pools.try_acquire(tx, pool, run_id, node, at(1))


def in_use(store: MetadataStore, when: float = 1) -> dict[str, int]:
    with store.reading() as conn:
        return {p.name: p.in_use for p in pools.list_pools(conn, at(when))}


def test_set_pool_creates_then_changes_slots_keeping_the_description(
    store: MetadataStore,
) -> None:
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 2, "two A100s", at(0))
        pools.set_pool(tx, "gpu", 3, None, at(1))
        pools.set_pool(tx, "api", 1, None, at(1))

    with store.reading() as conn:
        found = pools.list_pools(conn, at(1))

    assert [(p.name, p.slots, p.description, p.in_use) for p in found] == [
        ("api", 1, "", 0),
        ("gpu", 3, "two A100s", 0),
    ]
    assert found[1].updated_at == at(1)


def test_try_acquire_takes_free_slots_only(store: MetadataStore) -> None:
    create_run(store, "run-a")
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 2, "", at(0))

    assert acquire(store, "run-a", "fit-1")
    assert acquire(store, "run-a", "fit-2")
    assert not acquire(store, "run-a", "fit-3")
    assert in_use(store) == {"gpu": 2}


def test_two_runs_taking_the_last_slot_at_once_get_it_once(db_url: str) -> None:
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    took: list[bool] = []
    try:
        create_run(stores[0], "run-a")
        create_run(stores[0], "run-b")
        with stores[0].transaction() as tx:
            pools.set_pool(tx, "gpu", 1, "", at(0))
        overlapping(
            stores[0],
            lambda tx: took.append(pools.try_acquire(tx, "gpu", "run-a", "fit", at(1))),
            stores[1],
            lambda tx: took.append(pools.try_acquire(tx, "gpu", "run-b", "fit", at(1))),
        )
        held = in_use(stores[0])
    finally:
        for store in stores:
            store.dispose()

    assert took == [True, False]
    assert held == {"gpu": 1}


def test_release_frees_a_slot_for_the_next_taker(store: MetadataStore) -> None:
    create_run(store, "run-a")
    create_run(store, "run-b")
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 1, "", at(0))
    assert acquire(store, "run-a", "fit")
    assert not acquire(store, "run-b", "fit")

    with store.transaction() as tx:
        pools.release(tx, "run-a", ["fit", "not-holding"])

    assert acquire(store, "run-b", "fit")
    with store.reading() as conn:
        (gpu,) = pools.list_pools(conn, at(1))
    assert [(x.run_id, x.node, x.acquired_at) for x in gpu.leases] == [("run-b", "fit", at(1))]


def test_release_run_gives_back_every_slot_of_the_run(store: MetadataStore) -> None:
    create_run(store, "run-a")
    create_run(store, "run-b")
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 5, "", at(0))
        pools.set_pool(tx, "cpu", 5, "", at(0))
    assert acquire(store, "run-a", "one", "gpu") and acquire(store, "run-a", "two", "cpu")
    assert acquire(store, "run-b", "one", "gpu")

    with store.transaction() as tx:
        pools.release_run(tx, "run-a")

    assert in_use(store) == {"cpu": 0, "gpu": 1}


def test_leases_of_ended_or_silent_runs_hold_nothing(store: MetadataStore) -> None:
    """A killed runner stops beating; its slots come back after STALE_AFTER seconds."""
    for run_id in ("ended", "killed", "alive"):
        create_run(store, run_id)
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 3, "", at(0))
    for run_id in ("ended", "killed", "alive"):
        assert acquire(store, run_id, "fit")
    later = pools.STALE_AFTER + 10
    with store.transaction() as tx:
        store.finish_run(tx, "ended", status=RunState.FAILED, ended_at=at(2))
        store.heartbeat(tx, "alive", at(later - 1))

    with store.reading() as conn:
        assert [x.run_id for x in pools.leases(conn, "gpu", at(later))] == ["alive"]
    with store.transaction() as tx:
        assert pools.try_acquire(tx, "gpu", "alive", "score", at(later))


def test_try_acquire_names_a_deleted_pool(store: MetadataStore) -> None:
    create_run(store, "run-a")

    with pytest.raises(NotFoundError, match=r"pool 'gpu' does not exist.*dagwell pool set gpu"):
        acquire(store, "run-a", "fit")


def test_delete_pool_forgets_it_and_its_leases(store: MetadataStore) -> None:
    create_run(store, "run-a")
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 1, "", at(0))
    assert acquire(store, "run-a", "fit")

    with store.transaction() as tx:
        assert pools.delete_pool(tx, "gpu")
        assert not pools.delete_pool(tx, "gpu")

    assert in_use(store) == {}
    with store.reading() as conn:
        assert pools.leases(conn, "gpu", at(1)) == []


def test_pool_names_says_which_exist(store: MetadataStore) -> None:
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 1, "", at(0))

    with store.reading() as conn:
        assert pools.pool_names(conn, ["gpu", "tpu", "gpu"]) == {"gpu"}
        assert pools.pool_names(conn, []) == set()


def test_to_dict_is_json_ready(store: MetadataStore) -> None:
    create_run(store, "run-a")
    with store.transaction() as tx:
        pools.set_pool(tx, "gpu", 2, "A100s", at(0))
    assert acquire(store, "run-a", "fit")

    with store.reading() as conn:
        (gpu,) = pools.list_pools(conn, at(1))

    assert gpu.to_dict() == {
        "name": "gpu",
        "slots": 2,
        "in_use": 1,
        "description": "A100s",
        "updated_at": at(0).isoformat(),
        "leases": [{"run_id": "run-a", "node": "fit", "acquired_at": at(1).isoformat()}],
    }


# -- alerts -------------------------------------------------------------------------------


def alert(alert_id: str, kind: AlertKind, run_id: str, seconds: float, **more: object) -> Alert:
    return Alert(
        id=alert_id,
        kind=kind,
        pipeline=str(more.get("pipeline", "churn")),
        run_id=run_id,
        node=more.get("node"),  # type: ignore[arg-type]
        attempt=more.get("attempt"),  # type: ignore[arg-type]
        summary=f"{kind.value} of {run_id}",
        created_at=at(seconds),
    )


def test_alerts_are_listed_newest_first_with_their_deliveries(store: MetadataStore) -> None:
    sent = [alerts.Delivery("log", ok=True, tries=1), alerts.Delivery("hook", False, 3, "500")]
    with store.transaction() as tx:
        alerts.record_alert(
            tx, alert("a1", AlertKind.RETRY, "3f2a9c01", 1, node="fit", attempt=1), sent
        )
        alerts.record_alert(tx, alert("a2", AlertKind.FAILURE, "3f2a9c01", 2, node="fit"), [])
        alerts.record_alert(tx, alert("a3", AlertKind.SUCCESS, "77aa0011", 3, pipeline="x"), [])
        alerts.record_alert(tx, alert("a0", AlertKind.SUCCESS, "77aa0012", 3, pipeline="x"), [])

    with store.reading() as conn:
        every = alerts.list_alerts(conn)
        of_run = alerts.list_alerts(conn, run_id="3f2a")
        failures = alerts.list_alerts(conn, kind=AlertKind.FAILURE)
        recent = alerts.list_alerts(conn, since=at(2), pipeline="churn")
        newest = alerts.list_alerts(conn, limit=1)
        literal = alerts.list_alerts(conn, run_id="3f2_")

    assert [a.id for a in every] == ["a3", "a0", "a2", "a1"]  # a time tie: by id, descending
    assert [a.id for a in of_run] == ["a2", "a1"]
    assert of_run[1].deliveries == tuple(sent) and of_run[1].delivered == "1/2"
    assert (of_run[1].node, of_run[1].attempt, of_run[1].created_at) == ("fit", 1, at(1))
    assert [a.id for a in failures] == ["a2"]
    assert [a.id for a in recent] == ["a2"]
    assert [a.id for a in newest] == ["a3"]
    assert literal == []
    assert every[0].to_dict()["kind"] == "success"


def test_created_at_keeps_its_time_zone_on_every_backend(store: MetadataStore) -> None:
    local = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=-5)))
    with store.transaction() as tx:
        alerts.record_alert(
            tx, replace(alert("a1", AlertKind.SLA_MISS, "r", 0), created_at=local), []
        )

    with store.reading() as conn:
        (found,) = alerts.list_alerts(conn)

    assert found.created_at == local and found.created_at.tzinfo == timezone.utc
    assert found.created_at > T0
