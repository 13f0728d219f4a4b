"""Dataset versions: content hashes of files, folders and fsspec URLs."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from dagwell.core.datasets import Dataset, dataset
from dagwell.errors import DefinitionError
from dagwell.tracking.datasets import resolve_uri, version_of


def test_a_file_version_is_its_content_hash(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    first = version_of(dataset(str(data)))

    data.write_text("a,b\n1,3\n")
    changed = version_of(dataset(str(data)))
    data.write_text("a,b\n1,2\n")

    assert first.version != changed.version
    assert version_of(dataset(str(data))) == first
    assert (first.size, first.files, first.uri) == (8, 1, str(data))


def test_a_folder_version_changes_with_any_file_name_or_content(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("one")
    (folder / "sub" / "b.txt").write_text("two")
    original = version_of(Dataset(str(folder)))

    (folder / "sub" / "b.txt").rename(folder / "sub" / "c.txt")
    renamed = version_of(Dataset(str(folder)))
    (folder / "sub" / "c.txt").write_text("two!")
    edited = version_of(Dataset(str(folder)))

    assert original.files == 2 and original.size == 6
    assert len({original.version, renamed.version, edited.version}) == 3


def test_a_relative_path_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("x")

    assert version_of(dataset("x.txt")).uri == str(tmp_path / "x.txt")
    assert resolve_uri("s3://bucket/key") == "s3://bucket/key"


def test_a_path_with_a_nul_byte_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="NUL byte"):
        resolve_uri("data/a\0b.csv")


def test_an_fsspec_url_is_hashed_like_the_same_local_content(tmp_path: Path) -> None:
    with fsspec.open("memory://datasets-test/rows.csv", "wb") as f:
        f.write(b"a,b\n1,2\n")
    (tmp_path / "rows.csv").write_bytes(b"a,b\n1,2\n")

    remote = version_of(dataset("memory://datasets-test/rows.csv"))

    assert remote.version == version_of(dataset(str(tmp_path / "rows.csv"))).version


def test_a_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="does not exist"):
        version_of(dataset(str(tmp_path / "nope.csv")))
    with pytest.raises(DefinitionError, match="does not exist"):
        version_of(dataset("memory://datasets-test/missing.csv"))


def test_an_empty_uri_is_refused() -> None:
    with pytest.raises(DefinitionError, match="non-empty"):
        dataset("  ")
