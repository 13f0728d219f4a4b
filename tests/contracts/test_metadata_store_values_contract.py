"""The values a task's attempts record in the metadata store, on SQLite and on PostgreSQL:
outputs and the artifacts they point at, params of every JSON type, and metric points,
NaN and infinities included.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from metadata_helpers import INLINE, MODEL, at, create, select_rows, succeed

from dagwell.core.records import AttemptEnd, AttemptStart, Metric
from dagwell.core.states import AttemptState, TaskState
from dagwell.core.values import StoredValue
from dagwell.storage.metadata.store import MetadataStore
from dagwell.storage.metadata.tables import artifacts, outputs

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
