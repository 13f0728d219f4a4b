"""ModelStore against real SQLite: versions recorded with fenced attempt ends, aliases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagwell.core.models import LoggedModel
from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
BLOB = StoredValue("h-model", "pickle", 1234, "sklearn.LogisticRegression")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(f"sqlite:///{tmp_path / 'dagwell.db'}")
    yield store
    store.dispose()


def new_run(store: MetadataStore, run_id: str, nodes: tuple[str, ...] = ("fit",)) -> None:
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline="churn",
            params={},
            started_at=T0,
            executor="inline",
            task_runs=[NewTaskRun(node, node) for node in nodes],
            status=RunState.RUNNING,
        )


def end(
    node: str,
    *names: str,
    ok: bool = True,
    number: int = 1,
    value: StoredValue = BLOB,
) -> AttemptEnd:
    logged = tuple(LoggedModel(name, value, {"n": i}, T0) for i, name in enumerate(names))
    return AttemptEnd(
        node,
        number,
        AttemptState.SUCCEEDED if ok else AttemptState.FAILED,
        T0 + timedelta(seconds=1),
        TaskState.SUCCEEDED if ok else TaskState.FAILED,
        start=AttemptStart(node, number, T0),
        models=logged,
    )


def record(store: MetadataStore, run_id: str, *ends: AttemptEnd) -> list[bool]:
    with store.transaction() as tx:
        return store.record_attempts(tx, run_id, ends=ends)


def test_a_recorded_success_registers_versions_in_logging_order(store: MetadataStore) -> None:
    new_run(store, "run-1", ("fit", "fit-1"))

    record(store, "run-1", end("fit", "churn", "churn"), end("fit-1", "churn", "other"))

    versions = store.models.versions("churn")
    assert [(v.version, v.node, v.metadata) for v in versions] == [
        (1, "fit", {"n": 0}),
        (2, "fit", {"n": 1}),
        (3, "fit-1", {"n": 0}),
    ]
    assert versions[0].artifact == BLOB
    assert [(m.name, m.latest_version) for m in store.models.models()] == [
        ("churn", 3),
        ("other", 1),
    ]


def test_a_failed_attempt_registers_nothing(store: MetadataStore) -> None:
    new_run(store, "run-1")

    assert record(store, "run-1", end("fit", "churn", ok=False)) == [True]

    assert store.models.models() == []


@pytest.mark.parametrize("start_recorded", [True, False])
def test_a_fenced_out_late_end_registers_nothing(
    store: MetadataStore, start_recorded: bool
) -> None:
    """A late duplicate of an attempt's end (a zombie's) must not add a second version."""
    new_run(store, "run-1")
    if start_recorded:
        with store.transaction() as tx:
            store.record_attempts(tx, "run-1", starts=[AttemptStart("fit", 1, T0)])
    first = end("fit", "churn")
    late = replace(first, ended_at=first.ended_at + timedelta(seconds=5))
    if start_recorded:
        first, late = replace(first, start=None), replace(late, start=None)

    assert record(store, "run-1", first) == [True]
    assert record(store, "run-1", late) == [False]

    assert [v.version for v in store.models.versions("churn")] == [1]


def test_version_numbers_continue_across_runs_and_stay_unique_under_concurrency(
    store: MetadataStore, tmp_path: Path
) -> None:
    """Two stores on one file, as two runner processes would be."""
    other = MetadataStore(store.url)
    try:
        runs = [f"run-{i}" for i in range(8)]
        for run_id in runs:
            new_run(store, run_id)

        def write(which: MetadataStore, run_id: str) -> None:
            record(which, run_id, end("fit", "churn"))

        threads = [
            threading.Thread(target=write, args=(store if i % 2 else other, run_id))
            for i, run_id in enumerate(runs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()

    versions = store.models.versions("churn")
    assert [v.version for v in versions] == list(range(1, 9))
    assert sorted(v.run_id or "" for v in versions) == runs


def test_an_inline_value_cannot_become_a_version(store: MetadataStore) -> None:
    new_run(store, "run-1")
    inline = StoredValue("h", "json", 2, "int", is_inline=True, inline=1)

    with pytest.raises(ValueError, match="stored as an artifact"):
        record(store, "run-1", end("fit", "churn", value=inline))

    assert store.models.models() == []  # the whole transaction rolled back


def test_an_alias_points_at_one_version_and_moves(store: MetadataStore) -> None:
    new_run(store, "run-1")
    record(store, "run-1", end("fit", "churn", "churn"))

    with store.transaction() as tx:
        store.models.set_alias(tx, "churn", 1, "production")
    assert store.models.get("churn", alias="production").version == 1
    with store.transaction() as tx:
        store.models.set_alias(tx, "churn", 2, "production")

    assert store.models.get("churn", alias="production").aliases == ("production",)
    assert store.models.get("churn", 1).aliases == ()
    assert store.models.models()[0].aliases == {"production": 2}


def test_lookups_of_what_does_not_exist_say_what_does(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="no models are registered yet"):
        store.models.get("churn")
    new_run(store, "run-1")
    record(store, "run-1", end("fit", *["churn"] * 5))

    with pytest.raises(NotFoundError, match="registered models: churn"):
        store.models.versions("chrun")
    with pytest.raises(NotFoundError, match="its versions are 1 to 5"):
        store.models.get("churn", 6)
    with pytest.raises(NotFoundError, match="no aliases yet"):
        store.models.get("churn", alias="production")
    with pytest.raises(NotFoundError, match="no version 6"), store.transaction() as tx:
        store.models.set_alias(tx, "churn", 6, "production")
    with pytest.raises(DefinitionError, match="not both"):
        store.models.get("churn", 1, "production")


def test_versions_of_a_run_across_models(store: MetadataStore) -> None:
    new_run(store, "run-1")
    new_run(store, "run-2")
    record(store, "run-1", end("fit", "churn"))
    record(store, "run-2", end("fit", "churn", "other"))

    found = store.models.versions(run_id="run-2")

    assert [(v.name, v.version) for v in found] == [("churn", 2), ("other", 1)]
