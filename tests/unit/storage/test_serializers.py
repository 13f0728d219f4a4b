"""Tests for dagwell.storage.serializers: which serializer a value gets, and exact round trips."""

from __future__ import annotations

import enum
import io
import json
import math
import mmap
import pathlib
import subprocess
import sys
import textwrap
import threading
import weakref
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dagwell.errors import SerializationError, StorageError
from dagwell.storage import serializers
from dagwell.storage.serializers import (
    ARROW_PARQUET,
    JSON,
    NPY,
    PARQUET,
    PICKLE,
    SERIALIZERS,
    get_serializer,
    serialize,
    serializer_for,
    type_name,
)


def round_trip(value: Any) -> tuple[str, Any]:
    serializer, chunks = serialize(value)
    return serializer.name, serializer.load(io.BytesIO(b"".join(chunks)))


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (so True is not 1, nor 1.0 equal to 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_json_values_use_json_and_round_trip_exactly(value: Any) -> None:
    assert serializer_for(value) is JSON
    name, loaded = round_trip(value)
    assert name == "json"
    assert same(loaded, value)


def test_json_bytes_are_compact() -> None:
    assert b"".join(JSON.dump({"a": [1, 2.5], "b": None})) == b'{"a":[1,2.5],"b":null}'


def test_equal_json_values_give_equal_bytes() -> None:
    first = {"x": [1, 2], "y": {"z": "w"}}
    second = json.loads('{"x": [1, 2], "y": {"z": "w"}}')
    assert b"".join(JSON.dump(first)) == b"".join(JSON.dump(second))


def test_nan_and_infinities_round_trip_through_json() -> None:
    name, loaded = round_trip([math.nan, math.inf, -math.inf])
    assert name == "json"
    assert math.isnan(loaded[0]) and loaded[1:] == [math.inf, -math.inf]


class Color(enum.IntEnum):
    RED = 1


class Label(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        [1, (2, 3)],
        {1: "int key"},
        {"nested": {2: "int key"}},
        np.float64(1.5),
        np.int32(7),
        [np.float32(0.5)],
        Color.RED,
        Label("a str subclass"),
        {1, 2},
        b"bytes",
        pathlib.PurePosixPath("a/b"),
    ],
    ids=repr,
)
def test_values_json_would_change_go_to_pickle_and_round_trip(value: Any) -> None:
    assert serializer_for(value) is PICKLE
    name, loaded = round_trip(value)
    assert name == "pickle"
    assert type(loaded) is type(value)
    assert loaded == value


def test_self_containing_list_goes_to_pickle() -> None:
    value: list[Any] = [1]
    value.append(value)
    name, loaded = round_trip(value)
    assert name == "pickle"
    assert loaded[0] == 1 and loaded[1] is loaded


def test_deeply_nested_json_round_trips_through_pickle() -> None:
    value: list[Any] = []
    for _ in range(300):
        value = [value]
    assert round_trip(value) == ("pickle", value)


def test_int_json_cannot_write_falls_back_to_pickle() -> None:
    huge = 10**5000  # beyond Python's int-to-str digit limit
    assert round_trip(huge) == ("pickle", huge)


def test_lambda_round_trips_through_cloudpickle() -> None:
    offset = 3
    name, loaded = round_trip(lambda x: x + offset)
    assert name == "pickle"
    assert loaded(1) == 4


array_dtypes = st.sampled_from(
    ["bool", "int8", "uint16", "int64", "float16", "float32", ">f8", "complex128", "U5", "S3"]
).map(np.dtype)


@given(hnp.arrays(dtype=array_dtypes, shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0)))
def test_numpy_arrays_round_trip_exactly(array: np.ndarray) -> None:
    name, loaded = round_trip(array)
    assert name == "npy"
    assert type(loaded) is np.ndarray
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert loaded.tobytes() == array.tobytes()


@pytest.mark.parametrize(
    "array",
    [
        np.arange(20.0).reshape(4, 5)[:, ::2],
        np.arange(20)[::-3],
        np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        np.array([1, 2], dtype="timedelta64[s]"),
        np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")]),
    ],
    ids=["strided-2d", "reversed", "datetime64", "timedelta64", "structured"],
)
def test_unusual_arrays_round_trip(array: np.ndarray) -> None:
    name, loaded = round_trip(array)
    assert name == "npy"
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_fortran_ordered_array_keeps_its_order() -> None:
    array = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    _, loaded = round_trip(array)
    assert loaded.flags.f_contiguous
    np.testing.assert_array_equal(loaded, array)


def test_npy_bytes_are_a_standard_npy_file() -> None:
    """Anyone can read an artifact with plain numpy, and the format is the one np.save writes."""
    array = np.arange(6, dtype="<i4").reshape(2, 3)
    expected = io.BytesIO()
    np.save(expected, array)
    assert b"".join(NPY.dump(array)) == expected.getvalue()


def test_npy_dump_does_not_copy_the_array_data() -> None:
    array = np.arange(1000.0)
    data = NPY.dump(array)[-1]
    assert isinstance(data, memoryview)
    assert np.shares_memory(np.frombuffer(data, dtype=np.uint8), array)


def npy_file(tmp_path: pathlib.Path, array: np.ndarray) -> pathlib.Path:
    path = tmp_path / "array.npy"
    path.write_bytes(b"".join(NPY.dump(array)))
    return path


@pytest.mark.parametrize(
    "array",
    [
        np.arange(50_000, dtype=np.float64),
        np.asfortranarray(np.arange(60_000, dtype=">i4").reshape(200, 300)),
        np.zeros(20_000, dtype=[("x", "<f8"), ("y", "<i4")]),
        np.arange(30_000).astype("datetime64[s]"),
    ],
    ids=["float64", "fortran-big-endian", "structured", "datetime64"],
)
def test_npy_maps_big_arrays_from_a_file_copy_on_write(
    tmp_path: pathlib.Path, array: np.ndarray
) -> None:
    path = npy_file(tmp_path, array)
    original = path.read_bytes()
    with open(path, "rb") as fileobj:
        loaded = NPY.load(fileobj, map_from=1024)
    assert type(loaded) is np.ndarray
    assert isinstance(loaded.base, mmap.mmap)  # mapped, not read
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert loaded.flags.f_contiguous == array.flags.f_contiguous
    np.testing.assert_array_equal(loaded, array)
    # Writable, and what is written stays in this array: not in the file, not in others.
    assert loaded.flags.writeable
    zero = np.zeros(1, dtype=array.dtype)
    loaded[...] = zero
    assert (loaded == zero).all()
    assert path.read_bytes() == original
    with open(path, "rb") as fileobj:
        np.testing.assert_array_equal(NPY.load(fileobj, map_from=1024), array)


def test_npy_reads_arrays_below_the_mapping_size(tmp_path: pathlib.Path) -> None:
    array = np.arange(100, dtype=np.int64)
    with open(npy_file(tmp_path, array), "rb") as fileobj:
        loaded = NPY.load(fileobj, map_from=array.nbytes + 1)
    assert not isinstance(loaded.base, mmap.mmap)
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize(
    "array",
    [np.zeros((0, 3)), np.float64(2.5).reshape(())],
    ids=["empty", "0-d"],
)
def test_npy_reads_empty_and_scalar_arrays_even_when_asked_to_map(
    tmp_path: pathlib.Path, array: np.ndarray
) -> None:
    with open(npy_file(tmp_path, array), "rb") as fileobj:
        loaded = NPY.load(fileobj, map_from=0)
    assert loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)


def test_npy_reads_from_a_file_object_without_a_file_when_asked_to_map() -> None:
    array = np.arange(5000.0)
    loaded = NPY.load(io.BytesIO(b"".join(NPY.dump(array))), map_from=0)
    assert not isinstance(loaded.base, mmap.mmap)
    np.testing.assert_array_equal(loaded, array)


def test_npy_never_maps_or_unpickles_an_object_array(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}] * 1000, dtype=object), allow_pickle=True)
    with open(path, "rb") as fileobj, pytest.raises(ValueError, match="allow_pickle"):
        NPY.load(fileobj, map_from=0)


def test_npy_mapping_a_truncated_file_fails_as_reading_it_does(tmp_path: pathlib.Path) -> None:
    path = npy_file(tmp_path, np.arange(10_000.0))
    path.write_bytes(path.read_bytes()[:-8])
    with open(path, "rb") as fileobj, pytest.raises(ValueError):
        NPY.load(fileobj, map_from=0)


def test_npy_reads_instead_of_mapping_past_the_live_map_limit(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serializers, "_MAX_TRACKED_MAPS", 0)
    monkeypatch.setattr(serializers, "_tracked_maps", weakref.WeakSet())
    array = np.arange(10_000.0)
    with open(npy_file(tmp_path, array), "rb") as fileobj:
        loaded = NPY.load(fileobj, map_from=0)
    np.testing.assert_array_equal(loaded, array)
    assert isinstance(loaded.base, mmap.mmap) == (sys.version_info >= (3, 13))


@pytest.mark.parametrize(
    "value",
    [
        np.array([{"a": 1}, None], dtype=object),
        np.zeros(2, dtype=[("x", "f8"), ("o", "O")]),
        np.ma.masked_array([1, 2, 3], mask=[False, True, False]),
        np.zeros(2, dtype=[("ĕ", "f8")]),  # a field name only .npy format 3.0 can hold
    ],
    ids=["object", "structured-with-object", "masked", "non-latin1-field"],
)
def test_arrays_npy_cannot_hold_exactly_go_to_pickle(value: np.ndarray) -> None:
    name, loaded = round_trip(value)
    assert name == "pickle"
    assert type(loaded) is type(value)
    assert loaded.dtype == value.dtype
    assert repr(loaded) == repr(value)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(
            {"x": [1, 2, 3], "y": ["a", "b", None]}, index=pd.Index([10, 20, 30], name="k")
        ),
        pd.DataFrame(
            {"t": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC")},
            index=pd.DatetimeIndex(["2024-02-01", "2024-02-02"], name="when"),
        ),
        pd.DataFrame(
            {"v": [1.5, float("nan")], "c": pd.Categorical(["u", "v"])},
            index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["s", "i"]),
        ),
        pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}, index=pd.RangeIndex(5, 7)),
        pd.DataFrame({"b": [True, False], "a": [1, 2]}),  # column order
    ],
    ids=["named-int-index", "datetime-index", "multi-index", "range-index", "column-order"],
)
def test_dataframe_round_trips_through_parquet_with_index_and_dtypes(frame: pd.DataFrame) -> None:
    name, loaded = round_trip(frame)
    assert name == "parquet"
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=True, check_column_type=True)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(np.ones((2, 2))),  # integer column names
        pd.DataFrame({1: [1], "a": [2]}),
        pd.DataFrame({"mixed": [1, "x"]}),
        pd.DataFrame({"lists": [[1, 2], [3]]}),
        pd.DataFrame({"x": [1]}, index=pd.Index(["a"], dtype=object)),
    ],
    ids=["int-columns", "mixed-columns", "mixed-object", "lists", "object-index"],
)
def test_dataframe_parquet_would_change_goes_to_pickle(frame: pd.DataFrame) -> None:
    name, loaded = round_trip(frame)
    assert name == "pickle"
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=True, check_column_type=True)


def test_dataframe_subclass_goes_to_pickle() -> None:
    class Frame(pd.DataFrame):
        pass

    assert serializer_for(Frame({"x": [1]})) is PICKLE


def test_equal_dataframes_give_equal_bytes() -> None:
    first = pd.DataFrame({"x": [1, 2]}, index=["a", "b"])
    assert b"".join(serialize(first)[1]) == b"".join(serialize(first.copy())[1])


def test_arrow_table_round_trips_as_a_table() -> None:
    table = pa.table({"x": [1, 2, None], "s": ["a", None, "c"]}).replace_schema_metadata({"k": "v"})
    name, loaded = round_trip(table)
    assert name == "arrow-parquet"
    assert isinstance(loaded, pa.Table)
    assert loaded.equals(table, check_metadata=True)


def test_choosing_a_serializer_never_imports_pandas_or_pyarrow() -> None:
    script = textwrap.dedent(
        """
        import sys
        import numpy
        from dagwell.storage import serializers
        before = set(sys.modules)
        for value in ([1, {"a": 2}], (1,), numpy.zeros(3), object(), b"x"):
            serializers.serialize(value)
        print(sorted(
            name for name in set(sys.modules) - before
            if name.split(".")[0] in ("pandas", "pyarrow")
        ))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("value", "kind"),
    [(generator(), "'generator'"), (threading.Lock(), "'_thread.lock'")],
    ids=["generator", "lock"],
)
def test_unpicklable_value_raises_serialization_error_naming_its_type(
    value: Any, kind: str
) -> None:
    with pytest.raises(
        SerializationError, match=f"cannot serialize a value of type {kind}"
    ) as info:
        serialize(value)
    assert info.value.__cause__ is not None


def test_serializers_are_found_by_name() -> None:
    for serializer in SERIALIZERS:
        assert get_serializer(serializer.name) is serializer
    assert [s.name for s in SERIALIZERS] == ["json", "npy", "parquet", "arrow-parquet", "pickle"]
    assert (JSON, NPY, PARQUET, ARROW_PARQUET, PICKLE) == SERIALIZERS


def test_unknown_serializer_name_raises_storage_error_naming_it() -> None:
    with pytest.raises(StorageError, match="'yaml'"):
        get_serializer("yaml")


class Outer:
    class Inner:
        pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "int"),
        ([1], "list"),
        (None, "NoneType"),
        (np.zeros(1), "numpy.ndarray"),
        (pathlib.PurePosixPath("a"), "pathlib.PurePosixPath"),
        (Outer.Inner(), f"{__name__}.Outer.Inner"),
    ],
)
def test_type_name(value: Any, expected: str) -> None:
    assert type_name(value) == expected
