"""The metadata store's tracking rows, on SQLite and on PostgreSQL: the model registry,
dataset versions, cache entries and lineage queries.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from metadata_helpers import INLINE, MODEL, T0, all_at_once, at, create, overlapping, succeed

from dagwell.core.datasets import DatasetVersion
from dagwell.core.models import LoggedModel
from dagwell.core.records import AttemptEnd, AttemptStart
from dagwell.core.states import AttemptState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.storage.metadata.store import MetadataStore
from dagwell.storage.metadata.tables import runs

BLOB = StoredValue("h-model", "pickle", 1234, "sklearn.LogisticRegression")


def model_end(
    node: str,
    *names: str,
    ok: bool = True,
    number: int = 1,
    value: StoredValue = BLOB,
) -> AttemptEnd:
    """An end of ``node`` that logged one model per name in ``names``."""
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


# -- the model registry -------------------------------------------------------------------


def test_a_recorded_success_registers_versions_in_logging_order(store: MetadataStore) -> None:
    create(store, "run-1", ("fit", "fit-1"))

    record(store, "run-1", model_end("fit", "churn", "churn"), model_end("fit-1", "churn", "other"))

    versions = store.models.versions("churn")
    assert [(v.version, v.node, v.metadata) for v in versions] == [
        (1, "fit", {"n": 0}),
        (2, "fit", {"n": 1}),
        (3, "fit-1", {"n": 0}),
    ]
    assert versions[0].artifact == BLOB
    assert versions[0].created_at is not None and versions[0].created_at.tzinfo is not None
    models = store.models.models()
    assert [(m.name, m.latest_version, m.version_count) for m in models] == [
        ("churn", 3, 3),
        ("other", 1, 1),
    ]
    assert models[0].updated_at == versions[-1].created_at


def test_a_failed_attempt_registers_nothing(store: MetadataStore) -> None:
    create(store, "run-1")

    assert record(store, "run-1", model_end("fit", "churn", ok=False)) == [True]

    assert store.models.models() == []


@pytest.mark.parametrize("start_recorded", [True, False])
def test_a_fenced_out_late_end_registers_nothing(
    store: MetadataStore, start_recorded: bool
) -> None:
    """A late duplicate of an attempt's end (a zombie's) must not add a second version."""
    create(store, "run-1")
    if start_recorded:
        with store.transaction() as tx:
            store.record_attempts(tx, "run-1", starts=[AttemptStart("fit", 1, T0)])
    first = model_end("fit", "churn")
    late = replace(first, ended_at=first.ended_at + timedelta(seconds=5))
    if start_recorded:
        first, late = replace(first, start=None), replace(late, start=None)

    assert record(store, "run-1", first) == [True]
    assert record(store, "run-1", late) == [False]

    assert [v.version for v in store.models.versions("churn")] == [1]


def test_version_numbers_stay_unique_when_runners_register_at_once(db_url: str) -> None:
    """Two stores on one database, as two runner processes would be, eight runs at once."""
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    try:
        run_ids = [f"run-{i}" for i in range(8)]
        for run_id in run_ids:
            create(stores[0], run_id, ("fit",))
        all_at_once(
            [
                lambda s=stores[i % 2], r=run_id: record(s, r, model_end("fit", "churn", "other"))  # type: ignore[misc]
                for i, run_id in enumerate(run_ids)
            ]
        )
        versions = stores[0].models.versions("churn")
        others = stores[0].models.versions("other")
    finally:
        for store in stores:
            store.dispose()

    assert [v.version for v in versions] == list(range(1, 9))
    assert [v.version for v in others] == list(range(1, 9))
    assert sorted(v.run_id or "" for v in versions) == run_ids


def test_an_inline_value_cannot_become_a_version(store: MetadataStore) -> None:
    create(store, "run-1")
    inline = StoredValue("h", "json", 2, "int", is_inline=True, inline=1)

    with pytest.raises(ValueError, match="stored as an artifact"):
        record(store, "run-1", model_end("fit", "churn", value=inline))

    assert store.models.models() == []  # the whole transaction rolled back


def test_an_alias_points_at_one_version_and_moves(store: MetadataStore) -> None:
    create(store, "run-1")
    record(store, "run-1", model_end("fit", "churn", "churn"))

    with store.transaction() as tx:
        store.models.set_alias(tx, "churn", 1, "production")
        store.models.set_alias(tx, "churn", 1, "staging")
    assert store.models.get("churn", alias="production").version == 1
    assert store.models.get("churn", 1).aliases == ("production", "staging")
    with store.transaction() as tx:
        store.models.set_alias(tx, "churn", 2, "production")

    assert store.models.get("churn", alias="production").aliases == ("production",)
    assert store.models.get("churn", 1).aliases == ("staging",)
    assert store.models.models()[0].aliases == {"production": 2, "staging": 1}


def test_moving_an_alias_while_another_writer_moves_it_keeps_one_pointer(db_url: str) -> None:
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    try:
        create(stores[0], "run-1")
        record(stores[0], "run-1", model_end("fit", "churn", "churn"))
        overlapping(
            stores[0],
            lambda tx: stores[0].models.set_alias(tx, "churn", 1, "production"),
            stores[1],
            lambda tx: stores[1].models.set_alias(tx, "churn", 2, "production"),
        )
        found = stores[0].models.models()[0].aliases
    finally:
        for store in stores:
            store.dispose()

    assert found == {"production": 2}  # the later writer's


def test_lookups_of_what_does_not_exist_say_what_does(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="no models are registered yet"):
        store.models.get("churn")
    create(store, "run-1")
    record(store, "run-1", model_end("fit", *["churn"] * 5))

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
    create(store, "run-1")
    create(store, "run-2")
    record(store, "run-1", model_end("fit", "churn"))
    record(store, "run-2", model_end("fit", "churn", "other"))

    found = store.models.versions(run_id="run-2")

    assert [(v.name, v.version) for v in found] == [("churn", 2), ("other", 1)]


def test_model_metadata_with_nan_reads_back(store: MetadataStore) -> None:
    create(store, "run-1")
    logged = LoggedModel("churn", BLOB, {"auc": float("nan"), "f1": 0.5}, T0)
    record(store, "run-1", replace(model_end("fit"), models=(logged,)))

    metadata = store.models.get("churn").metadata

    assert metadata["f1"] == 0.5 and metadata["auc"] != metadata["auc"]


# -- datasets -----------------------------------------------------------------------------

CSV_1 = DatasetVersion("/data/churn.csv", "v1" + "0" * 62, 100, 1)
CSV_2 = DatasetVersion("/data/churn.csv", "v2" + "0" * 62, 120, 1)
FOLDER = DatasetVersion("/data/images", "f1" + "0" * 62, 10_000_000_000, 3, "h-snapshot")


def test_dataset_uses_are_listed_by_dataset_newest_version_first(store: MetadataStore) -> None:
    create(store, "run-1", ("ingest", "label"))
    create(store, "run-2", ("ingest",))
    with store.transaction() as tx:
        store.record_dataset_uses(tx, "run-1", [("ingest", CSV_1), ("label", FOLDER)], at(1))
        store.record_dataset_uses(tx, "run-1", [("label", CSV_1)], at(1))
    with store.transaction() as tx:
        store.record_dataset_uses(tx, "run-2", [("ingest", CSV_2)], at(2))

    found = store.list_dataset_versions()

    assert [(v.uri, v.version[:2], v.first_seen) for v in found] == [
        ("/data/churn.csv", "v2", at(2)),
        ("/data/churn.csv", "v1", at(1)),
        ("/data/images", "f1", at(1)),
    ]
    assert found[1].runs == (("run-1", "ingest"), ("run-1", "label"))
    assert (found[2].size, found[2].files, found[2].snapshot_hash) == (
        10_000_000_000,
        3,
        "h-snapshot",
    )
    assert [v.version[:2] for v in store.list_dataset_versions("/data/images")] == ["f1"]
    assert found[0].to_dict()["runs"] == [{"run": "run-2", "node": "ingest"}]


def test_a_later_snapshot_of_a_known_version_is_recorded(store: MetadataStore) -> None:
    create(store, "run-1")
    create(store, "run-2")
    with store.transaction() as tx:
        store.record_dataset_uses(tx, "run-1", [("ingest", CSV_1)], at(1))
    with store.transaction() as tx:
        store.record_dataset_uses(
            tx, "run-2", [("ingest", replace(CSV_1, snapshot_hash="h-s"))], at(2)
        )

    (version,) = store.list_dataset_versions()

    assert (version.snapshot_hash, version.first_seen) == ("h-s", at(1))


def test_runs_recording_one_new_dataset_version_at_once_both_keep_it(db_url: str) -> None:
    stores = [MetadataStore(db_url), MetadataStore(db_url)]
    uses = [("ingest", CSV_1), ("split", FOLDER)]
    try:
        for run_id in ("run-1", "run-2"):
            create(stores[0], run_id)
        overlapping(
            stores[0],
            lambda tx: stores[0].record_dataset_uses(tx, "run-1", uses, at(1)),
            stores[1],
            lambda tx: stores[1].record_dataset_uses(tx, "run-2", uses[::-1], at(2)),
        )
        found = stores[0].list_dataset_versions()
    finally:
        for store in stores:
            store.dispose()

    assert [(v.uri, v.first_seen, v.runs) for v in found] == [
        ("/data/churn.csv", at(1), (("run-1", "ingest"), ("run-2", "ingest"))),
        ("/data/images", at(1), (("run-1", "split"), ("run-2", "split"))),
    ]


# -- cache entries ------------------------------------------------------------------------


def keyed_success(store: MetadataStore, run_id: str, node: str, key: str) -> None:
    with store.transaction() as tx:
        store.set_cache_key(tx, run_id, node, key, {"code": "c1", "args": [1]})
    succeed(store, run_id, node, value=INLINE, model=MODEL)


def test_a_successful_keyed_call_is_a_hit_for_the_same_task_and_key(store: MetadataStore) -> None:
    create(store, "run-1")
    keyed_success(store, "run-1", "fit", "key-a")
    create(store, "run-2")

    with store.transaction() as tx:
        hit = store.find_cache_hit(tx, "fit", "key-a")
        assert store.find_cache_hit(tx, "fit", "key-b") is None
        assert store.find_cache_hit(tx, "split", "key-a") is None
        assert hit is not None
        store.mark_cache_hit(tx, "run-2", "fit", hit)
        store.set_task_status(tx, "run-2", ["fit"], TaskState.CACHED, at=at(3))

    assert (hit.run_id, hit.node, hit.key, hit.status) == ("run-1", "fit", "key-a", "succeeded")
    assert dict(hit.parts) == {"code": "c1", "args": [1]}
    assert list(hit.outputs) == ["value", "model"] and hit.outputs["model"] == MODEL
    assert store.get_run("run-2").tasks["fit"].outputs == hit.outputs
    assert store.cache_entry("run-2", "fit") == ("key-a", {"code": "c1", "args": [1]}, "run-1")
    assert store.cache_entry("run-2", "nope") == (None, None, None)


def test_the_newest_hit_wins_and_ties_are_broken_by_run_id(store: MetadataStore) -> None:
    for run_id in ("run-b", "run-c", "run-a"):
        create(store, run_id)
        keyed_success(store, run_id, "fit", "key-a")
    with store.transaction() as tx:
        assert store.find_cache_hit(tx, "fit", "key-a").run_id == "run-a"  # type: ignore[union-attr]
        tx.execute(sa.update(runs).values(created_at=T0))
        assert store.find_cache_hit(tx, "fit", "key-a").run_id == "run-c"  # type: ignore[union-attr]


def test_a_failed_or_unkeyed_call_is_no_hit(store: MetadataStore) -> None:
    create(store, "run-1")
    with store.transaction() as tx:
        store.set_cache_key(tx, "run-1", "fit", "key-a", {})
        store.set_task_status(tx, "run-1", ["fit"], TaskState.FAILED, at=at(1))
    succeed(store, "run-1", "split", value=INLINE)

    with store.transaction() as tx:
        assert store.find_cache_hit(tx, "fit", "key-a") is None


def test_previous_entry_is_the_newest_keyed_call_in_an_older_run(store: MetadataStore) -> None:
    create(store, "run-1")
    keyed_success(store, "run-1", "fit", "key-a")
    create(store, "run-2")
    keyed_success(store, "run-2", "fit", "key-b")
    create(store, "run-3")

    found = store.previous_cache_entry("fit", "fit", "run-3")
    older = store.previous_cache_entry("fit", "fit", "run-2")

    assert found is not None and (found.run_id, found.key) == ("run-2", "key-b")
    assert older is not None and older.run_id == "run-1"
    assert store.previous_cache_entry("fit", "fit", "run-1") is None


def test_clearing_the_cache_forgets_keys(store: MetadataStore) -> None:
    create(store, "run-1")
    keyed_success(store, "run-1", "fit", "key-a")
    keyed_success(store, "run-1", "split", "key-s")

    assert store.clear_cache("fit") == 1
    assert store.clear_cache() == 1
    assert store.clear_cache() == 0
    with store.transaction() as tx:
        assert store.find_cache_hit(tx, "split", "key-s") is None


# -- lineage ------------------------------------------------------------------------------


def test_lineage_queries_follow_datasets_artifacts_and_models(store: MetadataStore) -> None:
    create(store, "run-1", ("ingest", "fit"))
    create(store, "run-2", ("ingest", "fit"))
    for run_id in ("run-1", "run-2"):
        with store.transaction() as tx:
            store.record_dataset_uses(tx, run_id, [("ingest", CSV_1)], at(1))
        succeed(store, run_id, "ingest", frame=MODEL)
        record(store, run_id, model_end("fit", "churn"))

    assert store.artifact_producers("h-mo") == [
        ("h-model", "run-1", "ingest"),
        ("h-model", "run-2", "ingest"),
    ]
    assert store.artifact_producers("h_m") == []  # "_" is literal
    assert store.dataset_readers("/data/churn.csv") == [
        (CSV_1.version, "run-1", "ingest"),
        (CSV_1.version, "run-2", "ingest"),
    ]
    assert store.dataset_readers("/data/churn.csv", "v1") == store.dataset_readers(
        "/data/churn.csv"
    )
    assert store.dataset_readers("/data/churn.csv", "v2") == []
    assert store.datasets_read("run-2", "ingest") == [("/data/churn.csv", CSV_1.version)]
    assert store.models_by_artifact("h-model") == [("churn", 1), ("churn", 2)]
    assert store.models_logged("run-2", "fit") == [("churn", 2)]


def test_lineage_ties_in_creation_time_come_back_in_run_order(store: MetadataStore) -> None:
    for run_id in ("run-c", "run-a", "run-b"):
        create(store, run_id)
        succeed(store, run_id, "ingest", frame=MODEL)
        with store.transaction() as tx:
            store.record_dataset_uses(tx, run_id, [("ingest", CSV_1)], at(1))
    with store.transaction() as tx:
        tx.execute(sa.update(runs).values(created_at=T0))

    assert [r for _, r, _ in store.artifact_producers("h-model")] == ["run-a", "run-b", "run-c"]
    assert [r for _, r, _ in store.dataset_readers(CSV_1.uri)] == ["run-a", "run-b", "run-c"]
