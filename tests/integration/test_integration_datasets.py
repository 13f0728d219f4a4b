"""Datasets: hashed at run start, passed to tasks as paths, listed with their readers."""

from __future__ import annotations

import json
from pathlib import Path

import pipelines_for_tests as p
import pytest

import dagwell as dw
from dagwell.core.values import StoredValue
from dagwell.execution.attempt import artifact_store


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_dataset_reaches_the_task_as_its_path_and_each_version_is_recorded(
    tmp_path: Path, settings: dw.Settings, executor: str
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a\nb\n")
    first = dw.run(p.reads_dataset, {"path": str(data)}, executor=executor, settings=settings)
    data.write_text("a\nb\nc\n")
    second = dw.run(p.reads_dataset, {"path": str(data)}, executor=executor, settings=settings)

    assert (first.result(), second.result()) == (2, 3)
    versions = dw.list_datasets(str(data), settings=settings)
    assert len(versions) == 2
    assert {v.runs for v in versions} == {((first.id, "count_rows"),), ((second.id, "count_rows"),)}
    assert all(v.uri == str(data) and v.snapshot_hash is None for v in versions)


def test_the_same_content_is_the_same_version(tmp_path: Path, settings: dw.Settings) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("x\n")
    runs = [dw.run(p.reads_dataset, {"path": str(data)}, executor="inline", settings=settings)]
    runs.append(dw.run(p.reads_dataset, {"path": str(data)}, executor="inline", settings=settings))

    (version,) = dw.list_datasets(settings=settings)
    assert [run for run, _ in version.runs] == [r.id for r in runs]


def test_a_snapshot_copies_the_content_into_the_artifact_store(
    tmp_path: Path, settings: dw.Settings
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("keep me\n")
    dw.run(
        p.reads_dataset, {"path": str(data), "snapshot": True}, executor="inline", settings=settings
    )

    (version,) = dw.list_datasets(settings=settings)
    assert version.snapshot_hash is not None
    store = artifact_store(settings.artifacts_url)
    with store.open(version.snapshot_hash) as f:
        manifest = json.load(f)
    (entry,) = manifest["files"].values()
    assert store.get(StoredValue.from_json(entry)) == b"keep me\n"


def test_a_missing_dataset_fails_before_anything_is_recorded(
    tmp_path: Path, settings: dw.Settings
) -> None:
    with pytest.raises(dw.DefinitionError, match="does not exist"):
        dw.run(p.reads_dataset, {"path": str(tmp_path / "nope.csv")}, settings=settings)

    assert dw.list_runs(settings=settings) == []


def test_the_datasets_command_lists_versions_and_readers(
    tmp_path: Path, settings: dw.Settings, run_cli: object
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a\n")
    run = dw.run(p.reads_dataset, {"path": str(data)}, executor="inline", settings=settings)

    done = run_cli("datasets", "--json")  # type: ignore[operator]

    assert done.returncode == 0, done.stderr
    (listed,) = json.loads(done.stdout)
    assert listed["uri"] == str(data) and listed["runs"] == [{"run": run.id, "node": "count_rows"}]
