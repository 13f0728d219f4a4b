"""The model registry end to end in Python: real SQLite, local artifact store, both executors."""

from __future__ import annotations

from pathlib import Path

import pipelines_for_models as m
import pytest
import sqlalchemy as sa

import dagwell as dw
from dagwell.storage.shared import metadata_store


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_each_run_registers_the_next_version_linked_to_its_run_and_node(
    settings: dw.Settings, executor: str
) -> None:
    first = dw.run(m.register, {"C": 0.5}, executor=executor, workers=1, settings=settings)
    second = dw.run(m.register, {"C": 2.0}, executor=executor, workers=1, settings=settings)

    versions = dw.models.versions("iris", settings=settings)
    assert [(v.version, v.run_id, v.node) for v in versions] == [
        (1, first.id, "train"),
        (2, second.id, "train"),
    ]
    assert [v.metadata for v in versions] == [{"C": 0.5, "attempt": 1}, {"C": 2.0, "attempt": 1}]
    assert versions[0].created_at is not None
    assert versions[0].created_at <= versions[1].created_at  # type: ignore[operator]
    assert dw.models.get("iris", settings=settings).version == 2


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_loaded_model_predicts_like_the_one_that_was_logged(
    settings: dw.Settings, executor: str
) -> None:
    dw.run(m.register, {"C": 0.5}, executor=executor, workers=1, settings=settings)

    loaded = dw.models.load("iris", settings=settings)
    again = dw.models.get("iris", version=1, settings=settings).load()

    x, _ = m.iris()
    expected = m.fit_logistic(0.5).predict(x)
    assert type(loaded).__name__ == "LogisticRegression"
    assert (loaded.predict(x) == expected).all()
    assert (again.predict(x) == expected).all()
    assert loaded is not again


def test_the_model_is_an_artifact_row_that_the_version_points_at(settings: dw.Settings) -> None:
    """Lineage from artifact to model version needs the artifact recorded like outputs are."""
    dw.run(m.register, executor="inline", settings=settings)
    version = dw.models.get("iris", settings=settings)

    engine = sa.create_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT serializer, type_name, size FROM artifacts WHERE hash = ?",
                (version.artifact_hash,),
            ).all()
    finally:
        engine.dispose()
    assert found == [
        (version.artifact.serializer, version.artifact.type_name, version.artifact.size)
    ]
    assert found[0][0] in ("pickle", "cloudpickle")
    assert found[0][1].endswith("LogisticRegression")


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_only_the_attempt_that_succeeded_registers_its_model(
    settings: dw.Settings, executor: str, tmp_path: Path
) -> None:
    counter = str(tmp_path / "count")
    run = dw.run(m.retried, {"counter": counter}, executor=executor, settings=settings)

    assert run.status == "succeeded"
    assert len(run.tasks["flaky_train"].attempts) == 2
    versions = dw.models.versions("flaky", settings=settings)
    assert [(v.version, v.metadata) for v in versions] == [(1, {"attempt": 2})]
    assert versions[0].load() == {"weights": [2]}


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_failed_task_registers_nothing(settings: dw.Settings, executor: str) -> None:
    run = dw.run(m.failing, executor=executor, settings=settings)

    assert run.status == "failed"
    assert dw.models.list(settings=settings) == []
    with pytest.raises(dw.NotFoundError, match="no models are registered yet"):
        dw.models.get("doomed", settings=settings)


def test_several_models_logged_by_one_task_register_in_logging_order(
    settings: dw.Settings,
) -> None:
    """Small plain values are still stored as artifacts, never inline in the database."""
    dw.run(m.several, executor="inline", settings=settings)

    assert [(v.version, v.load()) for v in dw.models.versions("multi", settings=settings)] == [
        (1, {"step": 1}),
        (2, {"step": 2}),
    ]
    assert dw.models.load("other", settings=settings) == "tiny"
    listed = dw.models.list(settings=settings)
    assert [(x.name, x.latest_version, x.version_count) for x in listed] == [
        ("multi", 2, 2),
        ("other", 1, 1),
    ]


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("name", "model name must be a non-empty string of letters"),
        ("metadata", "metadata of model 'fine' must be JSON"),
        ("unpicklable", "model 'locked' of type lock cannot be stored"),
    ],
)
def test_bad_log_model_calls_fail_the_task_with_a_clear_message(
    settings: dw.Settings, how: str, message: str
) -> None:
    run = dw.run(m.bad_log, {"how": how}, executor="inline", settings=settings)

    assert run.status == "failed"
    assert message in (run.tasks["log_badly"].error or "")
    assert dw.models.list(settings=settings) == []


def test_aliases_are_set_moved_read_and_loaded(settings: dw.Settings) -> None:
    for C in (0.5, 1.0, 2.0):
        dw.run(m.register, {"C": C}, executor="inline", settings=settings)

    promoted = dw.models.set_alias("iris", 1, "production", settings=settings)
    dw.models.set_alias("iris", 3, "staging", settings=settings)
    assert (promoted.version, promoted.aliases) == (1, ("production",))
    assert dw.models.get("iris", alias="production", settings=settings).version == 1
    assert dw.models.load("iris@production", settings=settings).C == 0.5

    moved = dw.models.set_alias("iris", 2, "production", settings=settings)

    assert moved.aliases == ("production",)
    assert [v.aliases for v in dw.models.versions("iris", settings=settings)] == [
        (),
        ("production",),
        ("staging",),
    ]
    assert dw.models.load("iris@production", settings=settings).C == 1.0
    assert dw.models.resolve("iris@production", settings=settings).version == 2
    assert dw.models.load("iris@1", settings=settings).C == 0.5
    assert dw.models.load("iris@latest", settings=settings).C == 2.0
    assert dw.models.load("iris", settings=settings).C == 2.0
    (listed,) = dw.models.list(settings=settings)
    assert (listed.name, listed.latest_version, dict(listed.aliases)) == (
        "iris",
        3,
        {"production": 2, "staging": 3},
    )


def test_versions_can_be_narrowed_to_the_run_that_made_them(settings: dw.Settings) -> None:
    dw.run(m.register, executor="inline", settings=settings)
    second = dw.run(m.register, executor="inline", settings=settings)

    found = dw.models.versions("iris", run_id=second.id, settings=settings)

    assert [v.version for v in found] == [2]


def test_unknown_models_versions_and_aliases_name_what_exists(settings: dw.Settings) -> None:
    dw.run(m.register, executor="inline", settings=settings)
    dw.run(m.register, executor="inline", settings=settings)

    with pytest.raises(dw.NotFoundError, match=r"no model named 'irs'; registered models: iris"):
        dw.models.get("irs", settings=settings)
    with pytest.raises(dw.NotFoundError, match=r"no model named 'irs'"):
        dw.models.versions("irs", settings=settings)
    with pytest.raises(dw.NotFoundError, match=r"no version 7; its versions are 1, 2"):
        dw.models.load("iris@7", settings=settings)
    with pytest.raises(dw.NotFoundError, match=r"no alias 'production'; it has no aliases yet"):
        dw.models.load("iris@production", settings=settings)
    with pytest.raises(dw.NotFoundError, match=r"no version 9; its versions are 1, 2"):
        dw.models.set_alias("iris", 9, "production", settings=settings)
    dw.models.set_alias("iris", 2, "production", settings=settings)
    with pytest.raises(dw.NotFoundError, match=r"its aliases are: production \(version 2\)"):
        dw.models.get("iris", alias="prod", settings=settings)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: dw.models.load("iris@", settings=s), "bad model spec 'iris@'"),
        (lambda s: dw.models.load("a@b@c", settings=s), "bad model spec 'a@b@c'"),
        (lambda s: dw.models.load("", settings=s), "bad model spec ''"),
        (lambda s: dw.models.get("iris", 0, settings=s), "whole number from 1"),
        (lambda s: dw.models.get("iris", 1, "production", settings=s), "not both"),
        (lambda s: dw.models.set_alias("iris", 1, "3", settings=s), "cannot be a number"),
        (lambda s: dw.models.set_alias("iris", 1, "latest", settings=s), "cannot be an alias"),
        (lambda s: dw.models.set_alias("iris", 1, "a b", settings=s), "an alias must be"),
        (lambda s: dw.models.versions("no/slash", settings=s), "model name must be"),
    ],
)
def test_bad_requests_are_definition_errors(
    settings: dw.Settings, call: object, message: str
) -> None:
    dw.run(m.register, executor="inline", settings=settings)

    with pytest.raises(dw.DefinitionError, match=message):
        call(settings)  # type: ignore[operator]


def test_the_registry_shares_the_runs_metadata_store(settings: dw.Settings) -> None:
    """One connection pool per database per process, whoever opens it first."""
    from dagwell.storage.shared import metadata_store as shared

    assert shared(settings.db_url) is metadata_store(settings.db_url)


def test_a_sklearn_model_version_exports_in_mlflow_format(
    tmp_path: Path, settings: dw.Settings
) -> None:
    import mlflow.pyfunc

    dw.run(m.register, {"C": 1.0}, executor="inline", settings=settings)
    target = tmp_path / "exported"

    written = dw.models.export_mlflow("iris@1", str(target), settings=settings)

    assert (Path(written) / "MLmodel").is_file()
    features, _ = m.iris()
    expected = dw.models.load("iris@1", settings=settings).predict(features[:5])
    assert list(mlflow.pyfunc.load_model(written).predict(features[:5])) == list(expected)
    with pytest.raises(dw.DefinitionError, match="not empty"):
        dw.models.export_mlflow("iris@1", str(target), settings=settings)
