"""Pool queries against a real SQLite file: defining pools, taking and giving back slots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagwell.core.states import RunState
from dagwell.errors import NotFoundError
from dagwell.storage.metadata import pools
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(f"sqlite:///{tmp_path / 'dagwell.db'}")
    yield store
    store.dispose()


def create_run(store: MetadataStore, run_id: str) -> None:
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline="train",
            params={},
            started_at=T0,
            executor="process",
            task_runs=[NewTaskRun("fit", "fit")],
        )


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
