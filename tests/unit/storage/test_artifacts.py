"""Tests for dagwell.storage.artifacts: content-addressed, atomic storage of values."""

from __future__ import annotations

import itertools
import mmap
import os
import posixpath
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, SerializationError, StorageError
from dagwell.storage import artifacts
from dagwell.storage.artifacts import ArtifactStore

# Above the size where a local put hashes on a thread while it writes.
BIG = np.arange(3_000_000, dtype=np.float64)  # 24 MB


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(root: Path) -> ArtifactStore:
    return ArtifactStore(str(root))


@pytest.fixture
def memory_store() -> Iterator[ArtifactStore]:
    url = f"memory://dagwell-test-{uuid.uuid4().hex}"
    yield ArtifactStore(url)
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def assert_same(loaded: Any, value: Any) -> None:
    assert type(loaded) is type(value)
    if isinstance(value, np.ndarray):
        assert loaded.dtype == value.dtype
        np.testing.assert_array_equal(loaded, value)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    elif isinstance(value, pa.Table):
        assert loaded.equals(value)
    else:
        assert loaded == value


VALUES = {
    "json": ["x" * 5000],
    "npy": np.arange(12, dtype=np.int32).reshape(3, 4),
    "npy-big": BIG,
    "parquet": pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="k")),
    "arrow-parquet": pa.table({"x": [1, 2]}),
    "pickle": (1, "two", 3.0),
}


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "no-fsync"])
@pytest.mark.parametrize("kind", list(VALUES))
def test_values_round_trip_through_the_store(root: Path, kind: str, fsync: bool) -> None:
    store = ArtifactStore(str(root), fsync=fsync)
    value = VALUES[kind]
    stored = store.put(value)
    assert stored.serializer == kind.removesuffix("-big")
    assert not stored.is_inline
    assert_same(store.get(stored), value)


@pytest.mark.parametrize("kind", list(VALUES))
def test_hash_and_size_describe_the_stored_file(store: ArtifactStore, kind: str) -> None:
    """Anyone can check an object's integrity: its name is the BLAKE3 digest of its bytes."""
    stored = store.put(VALUES[kind])
    data = Path(store.path_for(stored.hash)).read_bytes()
    assert stored.hash == blake3(data).hexdigest()
    assert stored.size == len(data)


def test_stored_value_records_type_and_length(store: ArtifactStore) -> None:
    assert store.put(list(range(5))).length == 5
    assert store.put((1, 2)).length == 2
    assert store.put("abc").length is None
    assert store.put(np.zeros(4)).length is None
    assert store.put(3).type_name == "int"
    assert store.put([1]).type_name == "list"
    assert store.put(np.zeros(4)).type_name == "numpy.ndarray"
    assert store.put(VALUES["parquet"]).type_name == f"{pd.DataFrame.__module__}.DataFrame"


def test_root_folder_is_created_on_first_write(root: Path) -> None:
    store = ArtifactStore(str(root))
    assert not root.exists()
    store.put(np.zeros(3))
    assert root.is_dir()


def test_small_json_is_inline_and_writes_nothing(root: Path, store: ArtifactStore) -> None:
    value = {"accuracy": 0.93, "labels": ["a", "b"], "ok": True}
    stored = store.put(value)
    assert stored.is_inline
    assert stored.serializer == "json"
    assert stored.inline == value
    assert len(stored.hash) == 64
    assert store.get(stored) == value
    assert not root.exists()


def test_inline_limit_is_inclusive(store: ArtifactStore) -> None:
    value = "x" * 10  # 12 bytes of JSON with the quotes
    assert store.put(value, inline_limit=12).is_inline
    stored = store.put(value, inline_limit=11)
    assert not stored.is_inline
    assert stored.size == 12
    assert store.exists(stored.hash)
    assert store.get(stored) == value


def test_json_larger_than_default_limit_is_written(store: ArtifactStore) -> None:
    stored = store.put(list(range(1000)))
    assert not stored.is_inline
    assert stored.serializer == "json"
    assert store.get(stored) == list(range(1000))


def test_inline_and_written_forms_share_the_hash(store: ArtifactStore) -> None:
    inline = store.put({"a": 1})
    written = store.put({"a": 1}, inline_limit=0)
    assert inline.is_inline and not written.is_inline
    assert inline.hash == written.hash


def test_only_json_is_inlined(store: ArtifactStore) -> None:
    assert not store.put((1, 2)).is_inline
    assert not store.put(np.float64(1.0)).is_inline


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_json_with_nan_or_infinity_is_written_not_inlined(
    store: ArtifactStore, number: float
) -> None:
    """The inline form goes into the metadata database, where strict JSON has no NaN."""
    stored = store.put({"loss": number})
    assert not stored.is_inline
    assert str(store.get(stored)["loss"]) == str(number)


def test_text_mentioning_nan_is_still_inlined(store: ArtifactStore) -> None:
    assert store.put(["NaN", {"Infinity": -1}]).is_inline


def test_inline_value_is_independent_of_the_callers_object(store: ArtifactStore) -> None:
    value = {"xs": [1, 2]}
    stored = store.put(value)
    value["xs"].append(3)
    first = store.get(stored)
    first["xs"].append(4)
    assert store.get(stored) == {"xs": [1, 2]}


def test_equal_values_are_stored_once(root: Path, store: ArtifactStore) -> None:
    first = store.put(np.arange(100))
    second = store.put(np.arange(100))
    assert first.hash == second.hash
    assert files_under(root / "objects") == [Path(store.path_for(first.hash))]
    assert files_under(root / "tmp") == []


def test_equal_big_values_are_stored_once(root: Path, store: ArtifactStore) -> None:
    first = store.put(BIG)
    second = store.put(BIG.copy())
    assert first.hash == second.hash
    assert len(files_under(root / "objects")) == 1
    assert files_under(root / "tmp") == []


def test_different_values_get_different_hashes(root: Path, store: ArtifactStore) -> None:
    hashes = {
        store.put(value).hash
        for value in (np.arange(3), np.arange(4), np.arange(3.0), (1, 2), [1, 2], "x" * 3000)
    }
    assert len(hashes) == 6
    assert len(files_under(root / "objects")) == 5  # the list is inline


def test_concurrent_puts_of_one_value_store_one_object(root: Path, store: ArtifactStore) -> None:
    results: list[StoredValue] = []

    def put() -> None:
        results.append(store.put(np.arange(1000)))

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({stored.hash for stored in results}) == 1
    assert len(files_under(root / "objects")) == 1
    assert files_under(root / "tmp") == []


def generator() -> Iterator[int]:
    yield 1


def test_unserializable_value_raises_and_leaves_no_files(root: Path, store: ArtifactStore) -> None:
    with pytest.raises(SerializationError, match="'generator'") as info:
        store.put(generator())
    assert isinstance(info.value.__cause__, TypeError)
    assert files_under(root) == []


@pytest.mark.parametrize("value", [np.arange(10), BIG], ids=["small", "big"])
def test_failed_write_leaves_nothing_under_objects(
    root: Path, store: ArtifactStore, value: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that dies before completing never leaves a partial object behind."""

    def fail(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(StorageError, match="No space left") as info:
        store.put(value)
    assert isinstance(info.value.__cause__, OSError)
    assert files_under(root / "objects") == []
    assert files_under(root / "tmp") == []


def test_sweep_temporary_removes_only_old_orphans(root: Path, store: ArtifactStore) -> None:
    stored = store.put(np.arange(5))
    (root / "tmp").mkdir(exist_ok=True)
    old, recent = root / "tmp" / "old", root / "tmp" / "recent"
    old.write_bytes(b"half a file")
    recent.write_bytes(b"a write in progress")
    an_hour_ago = time.time() - 3601
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert store.sweep_temporary(older_than=3600) == 1
    assert files_under(root / "tmp") == [recent]
    assert store.sweep_temporary(older_than=-1) == 1
    assert files_under(root / "tmp") == []
    assert store.exists(stored.hash)


def test_sweep_temporary_on_an_unused_store_finds_nothing(store: ArtifactStore) -> None:
    assert store.sweep_temporary() == 0


def test_missing_object_raises_not_found_naming_hash_and_store(store: ArtifactStore) -> None:
    stored = store.put(np.arange(3))
    os.remove(store.path_for(stored.hash))
    with pytest.raises(NotFoundError) as info:
        store.get(stored)
    assert stored.hash in str(info.value)
    assert store.url in str(info.value)
    assert isinstance(info.value, LookupError)
    assert not store.exists(stored.hash)


def test_malformed_hash_is_not_found(store: ArtifactStore) -> None:
    assert not store.exists("../../etc/passwd")
    with pytest.raises(NotFoundError, match="not an artifact hash"):
        store.open("../../etc/passwd")


def test_unknown_serializer_raises_storage_error(store: ArtifactStore) -> None:
    stored = store.put(np.arange(3))
    renamed = StoredValue(
        hash=stored.hash, serializer="yaml", size=stored.size, type_name=stored.type_name
    )
    with pytest.raises(StorageError, match="'yaml'"):
        store.get(renamed)


def test_stored_value_survives_the_metadata_json_form(store: ArtifactStore) -> None:
    for value in ({"a": [1, 2]}, np.arange(4)):
        stored = store.put(value)
        assert_same(store.get(StoredValue.from_json(stored.to_json())), value)


def test_open_reads_the_object_bytes(store: ArtifactStore) -> None:
    stored = store.put(np.arange(4))
    with store.open(stored.hash) as fileobj:
        assert fileobj.read(6) == b"\x93NUMPY"


def test_path_for_uses_the_hash_layout(root: Path, store: ArtifactStore) -> None:
    digest = "ab" + "0" * 62
    assert store.path_for(digest) == str(root / "objects" / "ab" / ("0" * 62))
    assert store.url == str(root)


def test_file_url_is_a_local_store(tmp_path: Path) -> None:
    store = ArtifactStore(f"file://{tmp_path}/artifacts")
    stored = store.put(np.arange(3))
    assert Path(store.path_for(stored.hash)).is_file()


@pytest.mark.parametrize(
    "url",
    [
        "/srv/data/artifacts",
        "/srv/data/artifacts/",
        "/srv//data/../artifacts",
        "/",
        "relative/artifacts",
        "./relative",
        ".",
        "~/artifacts",
        "file:///srv/artifacts",
        "file://relative/artifacts",
        "local:///srv/artifacts",
    ],
)
def test_local_paths_and_file_urls_find_the_root_fsspec_finds(url: str) -> None:
    _, expected = fsspec.core.url_to_fs(url)
    store = ArtifactStore(url)
    digest = "ab" + "0" * 62
    assert store.path_for(digest) == posixpath.join(expected, "objects", "ab", "0" * 62)


def test_a_local_store_does_not_import_fsspec(tmp_path: Path) -> None:
    """fsspec takes longer to import than a short run takes: plain paths do without it."""
    script = textwrap.dedent(
        f"""
        import sys
        import numpy
        from dagwell.storage.artifacts import ArtifactStore
        store = ArtifactStore({str(tmp_path / "artifacts")!r})
        for value in (numpy.arange(3_000_000.0), (1, 2), [1] * 1000):
            assert str(store.get(store.put(value))) == str(value)
        store.sweep_temporary()
        print(sorted(name for name in sys.modules if name.split(".")[0] == "fsspec"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_big_arrays_load_mapped_writable_and_independent(store: ArtifactStore) -> None:
    stored = store.put(BIG)
    path = Path(store.path_for(stored.hash))
    first, second = store.get(stored), store.get(stored)
    assert type(first) is np.ndarray and first.flags.writeable
    assert isinstance(first.base, mmap.mmap)  # no copy into new memory
    first[:] = -1.0
    np.testing.assert_array_equal(second, BIG)
    np.testing.assert_array_equal(store.get(stored), BIG)
    assert blake3(path.read_bytes()).hexdigest() == stored.hash


def test_small_arrays_are_read_not_mapped(store: ArtifactStore) -> None:
    loaded = store.get(store.put(np.arange(1000.0)))
    assert not isinstance(loaded.base, mmap.mmap)


def test_a_mapped_array_outlives_its_object(store: ArtifactStore) -> None:
    stored = store.put(BIG)
    loaded = store.get(stored)
    os.remove(store.path_for(stored.hash))
    np.testing.assert_array_equal(loaded, BIG)


class Chunky:
    """A value pickle writes as one big ``bytes`` chunk."""

    def __init__(self) -> None:
        self.data = np.arange(3_000_000, dtype=np.int64).reshape(1000, 3000)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunky) and bool((other.data == self.data).all())


@pytest.mark.parametrize(
    "value",
    [BIG, np.asfortranarray(BIG.reshape(1000, 3000)), Chunky()],
    ids=["npy", "npy-fortran", "pickle"],
)
def test_big_writes_send_every_piece_to_disk_as_they_go(
    root: Path, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[tuple[int, int]] = []
    real = artifacts._writeback_starter()

    def record(fileno: int, offset: int) -> None:
        starts.append((offset, os.lseek(fileno, 0, os.SEEK_CUR)))  # from, and written so far
        if real is not None:
            real(fileno, offset)

    monkeypatch.setattr(artifacts, "_writeback_starter", lambda: record)
    stored = ArtifactStore(str(root)).put(value)
    data = Path(ArtifactStore(str(root)).path_for(stored.hash)).read_bytes()
    assert blake3(data).hexdigest() == stored.hash and len(data) == stored.size
    # Each piece of 8 MiB is sent on once it is in the file, from where the last one ended.
    piece = artifacts._WRITEBACK_BYTES
    assert len(starts) == stored.size // piece
    assert starts[0][0] == 0
    for (offset, size), (next_offset, _) in itertools.pairwise(starts):
        assert next_offset == size and size - offset >= piece
    assert_same(ArtifactStore(str(root)).get(stored), value)


def test_writes_without_fsync_or_the_system_call_do_not_send_pieces(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(artifacts, "_writeback_starter", lambda: lambda f, o: calls.append(o))
    ArtifactStore(str(root), fsync=False).put(BIG)
    assert calls == []
    monkeypatch.setattr(artifacts, "_writeback_starter", lambda: None)
    stored = ArtifactStore(str(root / "other")).put(BIG)
    assert_same(ArtifactStore(str(root / "other")).get(stored), BIG)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_sync_file_range_is_found_and_harmless(tmp_path: Path) -> None:
    start = artifacts._writeback_starter()
    assert start is not None
    path = tmp_path / "file"
    with open(path, "wb") as fileobj:
        fileobj.write(b"x" * 100_000)
        fileobj.flush()
        start(fileobj.fileno(), 0)
        start(fileobj.fileno(), 10**12)  # past the end: nothing to do
    assert path.read_bytes() == b"x" * 100_000


@pytest.mark.parametrize("kind", list(VALUES))
def test_memory_backend_round_trips(memory_store: ArtifactStore, kind: str) -> None:
    value = VALUES[kind]
    stored = memory_store.put(value)
    assert memory_store.exists(stored.hash)
    assert memory_store.path_for(stored.hash).startswith("memory://")
    assert_same(memory_store.get(stored), value)


def test_memory_backend_stores_equal_values_once(memory_store: ArtifactStore) -> None:
    fs, path = fsspec.core.url_to_fs(memory_store.url)
    first = memory_store.put(np.arange(10))
    second = memory_store.put(np.arange(10))
    assert first.hash == second.hash
    assert fs.find(path) == [fs._strip_protocol(memory_store.path_for(first.hash))]


def test_memory_backend_inline_and_not_found(memory_store: ArtifactStore) -> None:
    stored = memory_store.put([1, 2])
    assert stored.is_inline
    assert memory_store.get(stored) == [1, 2]
    missing = StoredValue(hash="f" * 64, serializer="npy", size=1, type_name="numpy.ndarray")
    with pytest.raises(NotFoundError, match="f" * 64):
        memory_store.get(missing)


def test_memory_backend_sweeps_temporary_files(memory_store: ArtifactStore) -> None:
    fs, path = fsspec.core.url_to_fs(memory_store.url)
    fs.pipe_file(f"{path}/tmp/orphan", b"half a file")
    assert memory_store.sweep_temporary(older_than=3600) == 0
    assert memory_store.sweep_temporary(older_than=-1) == 1
    assert not fs.exists(f"{path}/tmp/orphan")


@settings(max_examples=50, deadline=None)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=40,
    ),
    inline_limit=st.sampled_from([0, 64, 2048]),
)
def test_json_values_round_trip_inline_or_not(
    tmp_path_factory: pytest.TempPathFactory, value: Any, inline_limit: int
) -> None:
    store = ArtifactStore(str(tmp_path_factory.mktemp("artifacts")), fsync=False)
    stored = store.put(value, inline_limit=inline_limit)
    assert stored.is_inline == (stored.size <= inline_limit)
    assert store.get(stored) == value
