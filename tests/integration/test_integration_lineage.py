"""Lineage: from a dataset version through task runs and artifacts to a model version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pipelines_for_tests as p
import pytest

import dagwell as dw


def kinds_and_labels(node: dw.LineageNode) -> list[tuple[str, str]]:
    found = [(node.kind, node.label)]
    for child in node.children:
        found.extend(kinds_and_labels(child))
    return found


@pytest.fixture
def recorded(tmp_path: Path, settings: dw.Settings) -> tuple[Path, dw.Run]:
    data = tmp_path / "rows.csv"
    data.write_text("a\nb\nc\n")
    run = dw.run(p.dataset_to_model, {"path": str(data)}, executor="inline", settings=settings)
    assert run.status == "succeeded"
    return data, run


def test_the_upstream_lineage_of_a_model_reaches_the_dataset_version(
    recorded: tuple[Path, dw.Run], settings: dw.Settings
) -> None:
    data, run = recorded

    tree = dw.lineage("model:row_model@1", settings=settings)

    found = kinds_and_labels(tree)
    assert found[0] == ("model", "row_model v1")
    assert ("task", f"summarize in run {run.id} (succeeded)") in found
    assert ("task", f"count_rows in run {run.id} (succeeded)") in found
    (dataset,) = [label for kind, label in found if kind == "dataset"]
    assert dataset.startswith(str(data))


def test_the_downstream_lineage_of_a_dataset_reaches_the_model(
    recorded: tuple[Path, dw.Run], settings: dw.Settings
) -> None:
    data, run = recorded

    found = kinds_and_labels(dw.lineage(str(data), "downstream", settings=settings))

    assert ("task", f"count_rows in run {run.id} (succeeded)") in found
    assert ("model", "row_model v1") in found


def test_a_task_run_and_an_artifact_prefix_are_refs_too(
    recorded: tuple[Path, dw.Run], settings: dw.Settings
) -> None:
    _, run = recorded
    model = dw.models.get("row_model", settings=settings)

    by_task = kinds_and_labels(dw.lineage(f"{run.id}:summarize", settings=settings))
    by_artifact = dw.lineage(model.artifact_hash[:10], settings=settings)

    assert any(kind == "dataset" for kind, _ in by_task)
    assert by_artifact.kind == "model" and by_artifact.label == "row_model v1"
    assert any(kind == "dataset" for kind, _ in kinds_and_labels(by_artifact))


def test_an_unknown_ref_is_a_clear_error(settings: dw.Settings) -> None:
    with pytest.raises(dw.NotFoundError, match="not a recorded model"):
        dw.lineage("nothing-like-this", settings=settings)
    with pytest.raises(dw.DefinitionError, match="direction"):
        dw.lineage("x", "sideways", settings=settings)


def test_the_lineage_command_prints_a_tree_and_json(
    recorded: tuple[Path, dw.Run], run_cli: Any
) -> None:
    tree = run_cli("lineage", "model:row_model@1")
    as_json = run_cli("lineage", "model:row_model@1", "--json")

    assert tree.returncode == 0, tree.stderr
    assert "count_rows" in tree.stdout and "dataset" in tree.stdout
    assert json.loads(as_json.stdout)["kind"] == "model"
