"""dw.log_model inside a hand-made task context, the naming rules, and model spec text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.core.context import TaskContext, task_context
from dagwell.core.models import ModelSpec, ModelVersion, check_alias, check_model_name
from dagwell.core.values import StoredValue
from dagwell.storage.artifacts import ArtifactStore


@pytest.fixture
def context(tmp_path: Path) -> Iterator[TaskContext]:
    context = TaskContext(
        run_id="r1", pipeline="p", node="fit", attempt=1, artifacts_url=str(tmp_path / "art")
    )
    with task_context(context):
        yield context


def test_log_model_stores_the_object_now_and_queues_a_registration(
    context: TaskContext, tmp_path: Path
) -> None:
    model = {"weights": [1.0, 2.0]}

    returned = dw.log_model(model, "churn", metadata={"auc": 0.9})  # type: ignore[func-returns-value]
    model["weights"].append(3.0)  # later changes are not part of the logged version

    assert returned is None
    (logged,) = context.log.models
    assert (logged.name, logged.metadata) == ("churn", {"auc": 0.9})
    assert not logged.value.is_inline  # small JSON too: a version points at an artifact
    assert ArtifactStore(str(tmp_path / "art")).get(logged.value) == {"weights": [1.0, 2.0]}


def test_log_model_accepts_numpy_scalars_in_metadata(context: TaskContext) -> None:
    import numpy as np

    dw.log_model(1, "m", metadata={"auc": np.float64(0.5), "n": np.int64(3)})

    assert context.log.models[0].metadata == {"auc": 0.5, "n": 3}


def test_log_model_outside_a_task_is_the_same_error_as_log_metric() -> None:
    with pytest.raises(dw.DagwellError, match="outside a running task"):
        dw.log_model(object(), "churn")


def test_log_model_in_a_context_without_an_artifact_store_says_so() -> None:
    with (
        task_context(TaskContext(run_id="r", pipeline="p", node="n", attempt=1)),
        pytest.raises(dw.DagwellError, match="no artifact store"),
    ):
        dw.log_model(1, "churn")


@pytest.mark.parametrize(
    ("name", "metadata", "message"),
    [
        ("", None, "model name must be a non-empty string"),
        ("a b", None, "model name must be"),
        ("x@1", None, "model name must be"),
        (3, None, "model name must be"),
        ("ok", {"f": object()}, "must be JSON"),
        ("ok", {"nan": float("nan")}, "must be JSON"),
        ("ok", [("a", 1)], "must be a dict"),
    ],
)
def test_bad_names_and_metadata_are_refused_before_storing(
    context: TaskContext, name: object, metadata: object, message: str
) -> None:
    with pytest.raises(dw.DefinitionError, match=message):
        dw.log_model(1, name, metadata)  # type: ignore[arg-type]
    assert context.log.models == []


@pytest.mark.parametrize("name", ["churn", "churn-v2", "a.b_c", "X", "2024"])
def test_model_names_of_letters_digits_and_dot_dash_underscore_are_valid(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize(
    ("alias", "message"),
    [("3", "cannot be a number"), ("latest", "cannot be an alias"), ("a/b", "alias must be")],
)
def test_aliases_cannot_be_numbers_latest_or_odd_text(alias: str, message: str) -> None:
    with pytest.raises(dw.DefinitionError, match=message):
        check_alias(alias)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelSpec("churn")),
        ("churn@latest", ModelSpec("churn")),
        ("churn@3", ModelSpec("churn", version=3)),
        ("churn@production", ModelSpec("churn", alias="production")),
        ("churn.v2@v2-rc", ModelSpec("churn.v2", alias="v2-rc")),
    ],
)
def test_spec_text_names_the_newest_a_version_or_an_alias(text: str, expected: ModelSpec) -> None:
    assert ModelSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["", "@3", "churn@", "churn@0", "a@b@c", "churn@²", "a b", 3])
def test_bad_spec_text_is_a_definition_error_that_shows_the_forms(text: object) -> None:
    with pytest.raises(dw.DefinitionError, match=r"name@VERSION|model spec is text"):
        ModelSpec.parse(text)


def test_a_version_read_without_an_artifact_store_cannot_load() -> None:
    version = ModelVersion("churn", 2, "r1", "fit", StoredValue("h", "pickle", 10, "dict"))

    assert (version.spec, version.artifact_hash) == ("churn@2", "h")
    assert version.to_dict()["type"] == "dict"
    with pytest.raises(dw.NotFoundError, match="without an artifact store"):
        version.load()


def test_dw_models_is_the_registry_namespace() -> None:
    assert repr(dw.models) == "dw.models"
    assert {"list", "get", "versions", "set_alias", "load"} <= set(dir(dw.models))
