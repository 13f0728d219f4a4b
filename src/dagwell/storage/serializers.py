"""Serializers: how a value becomes bytes and back, kept apart from where the bytes go.

A :class:`Serializer` turns one kind of value into chunks of bytes and reads it back from a
binary file. The artifact store picks one with :func:`serialize` (or :func:`serializer_for`),
records its ``name`` next to the content hash, and finds it again with
:func:`get_serializer`. Nothing here knows about URLs or hashes; only ``npy`` can, when asked
to, map a real file's data instead of reading it.

Serializers are tried in the order of :data:`SERIALIZERS`:

``json``
    ``None``, ``bool``, ``int``, ``float``, ``str`` and lists and ``str``-keyed dicts of those,
    when the value comes back *exactly* (no tuples, subclasses or numpy scalars).
``npy``
    A plain ``numpy.ndarray`` without Python objects in it, written without copying the data.
``parquet`` / ``arrow-parquet``
    A ``pandas.DataFrame`` that Parquet gives back exactly / a ``pyarrow.Table``. pandas and
    pyarrow are optional; they are imported only to load such a value (a value of one of
    their types means the library is imported already).
``pickle``
    Everything else, with cloudpickle.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import weakref
from collections.abc import Iterable
from typing import IO, Any, Protocol, TypeAlias

import cloudpickle

from dagwell.errors import SerializationError, StorageError

Chunk: TypeAlias = bytes | memoryview
"""One piece of a serialized value; a ``memoryview`` lets big buffers be written uncopied."""


class Serializer(Protocol):
    """Turns one kind of value into bytes and back.

    ``handles`` says whether this serializer is the one for ``value``; it is cheap and never
    imports anything. ``dump`` returns the bytes as chunks (so a big buffer can be written
    without a copy) and raises :class:`~dagwell.errors.SerializationError` when the value
    cannot be written. ``load`` reads the value back from a readable binary file.

    Example::

        serializer = serializer_for([1, 2])
        data = b"".join(serializer.dump([1, 2]))
        assert serializer.load(io.BytesIO(data)) == [1, 2]
    """

    name: str

    def handles(self, value: Any) -> bool: ...

    def dump(self, value: Any) -> Iterable[Chunk]: ...

    def load(self, fileobj: IO[bytes]) -> Any: ...


def type_name(value: Any) -> str:
    """The qualified name of ``type(value)``; builtins go without their module.

    Example::

        assert type_name(3) == "int"
        assert type_name(pathlib.PurePosixPath("a")) == "pathlib.PurePosixPath"
    """
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _cannot_serialize(value: Any, exc: BaseException) -> SerializationError:
    return SerializationError(f"cannot serialize a value of type {type_name(value)!r}: {exc}")


# JSON-able values are checked exactly by type: a subclass (bool enum, str enum, numpy float)
# or a tuple would come back as a different type, so those go to pickle.
_JSON_SCALARS = frozenset({type(None), bool, int, float, str})
# Deeper values go to pickle: json's encoder recurses, and a self-containing list must not
# send the check round forever.
_JSON_MAX_DEPTH = 100


def _is_plain_json(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind in _JSON_SCALARS:
            continue
        if depth >= _JSON_MAX_DEPTH:
            return False
        if kind is list:
            for child in item:
                if type(child) not in _JSON_SCALARS:
                    stack.append((child, depth + 1))
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    return False
                if type(child) not in _JSON_SCALARS:
                    stack.append((child, depth + 1))
        else:
            return False
    return True


class JsonSerializer:
    """Plain JSON values as compact JSON text; equal values in equal order give equal bytes.

    Example::

        assert b"".join(JSON.dump({"a": [1, 2.5]})) == b'{"a":[1,2.5]}'
        assert not JSON.handles((1, 2))  # a tuple would come back as a list
    """

    name = "json"

    def handles(self, value: Any) -> bool:
        return _is_plain_json(value)

    def dump(self, value: Any) -> list[Chunk]:
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=True)
        except (TypeError, ValueError, RecursionError) as exc:
            # ValueError: an int beyond Python's int-to-str digit limit.
            raise _cannot_serialize(value, exc) from exc
        return [text.encode()]

    def load(self, fileobj: IO[bytes]) -> Any:
        return json.loads(fileobj.read())


class NpySerializer:
    """A numpy array in the ``.npy`` format, its data written straight from the array's memory.

    Arrays holding Python objects go to pickle, and so do ndarray subclasses (a masked
    array would lose its mask). A Fortran-ordered array is kept in Fortran order. Loading
    never unpickles anything; see :meth:`load` for mapping big arrays instead of reading them.

    Example::

        chunks = NPY.dump(numpy.arange(3))
        assert (NPY.load(io.BytesIO(b"".join(chunks))) == numpy.arange(3)).all()
    """

    name = "npy"

    def handles(self, value: Any) -> bool:
        numpy = sys.modules.get("numpy")
        return numpy is not None and type(value) is numpy.ndarray and not value.dtype.hasobject

    def dump(self, value: Any) -> list[Chunk]:
        import numpy
        from numpy.lib import format as npy_format

        array = value
        if array.flags.f_contiguous and not array.flags.c_contiguous:
            # The header says "fortran_order" and the transpose is C-contiguous: no copy.
            data = array.T
        else:
            # Not numpy.ascontiguousarray: it turns a 0-d array into a 1-d one.
            array = array if array.flags.c_contiguous else array.copy(order="C")
            data = array
        header = io.BytesIO()
        header_data = npy_format.header_data_from_array_1_0(array)
        try:
            npy_format.write_array_header_1_0(header, header_data)
        except ValueError:  # the header is too long for format 1.0
            header = io.BytesIO()
            try:
                npy_format.write_array_header_2_0(header, header_data)
            except UnicodeEncodeError as exc:
                # Field names beyond latin-1 need format 3.0, which has no public header
                # writer and makes np.save warn; serialize() sends such arrays to pickle.
                raise _cannot_serialize(value, exc) from exc
        # A byte view, so the memoryview's length is its size in bytes and dtypes the buffer
        # protocol does not know (datetime64) still work.
        return [header.getvalue(), memoryview(data.reshape(-1).view(numpy.uint8))]

    def load(self, fileobj: IO[bytes], *, map_from: int | None = None) -> Any:
        """Read the array in ``fileobj``; with ``map_from``, map big ones instead of reading.

        ``map_from=N`` maps the data of an array of at least ``N`` bytes copy-on-write from
        ``fileobj``'s file (when it has a real one): no copy and no new memory up front,
        the pages are the page cache's, and writes to the array go to private copies that
        never reach the file. Pass it only for files that are never modified in place, such
        as content-addressed objects: Linux shows later changes to the file in the pages the
        array has not written to. Otherwise, and for smaller arrays, the data is read.
        """
        import numpy

        if map_from is not None:
            mapped = _map_npy(fileobj, map_from)
            if mapped is not None:
                return mapped
            fileobj.seek(0)
        return numpy.load(fileobj, allow_pickle=False)


# Before Python 3.13 every map keeps a duplicate of its file's descriptor open for as long as
# it lives; past this many live maps, arrays are read instead, so that a task taking
# thousands of big arrays cannot run out of file descriptors.
_MAX_TRACKED_MAPS = 128
_tracked_maps: weakref.WeakSet[Any] = weakref.WeakSet()


def _map_npy(fileobj: IO[bytes], map_from: int) -> Any:
    """The array in ``fileobj`` over a copy-on-write map of its data, or None to read it."""
    import mmap

    import numpy
    from numpy.lib import format as npy_format

    tracks_fd = sys.version_info < (3, 13)
    if tracks_fd and len(_tracked_maps) >= _MAX_TRACKED_MAPS:
        return None
    try:
        fileno = fileobj.fileno()
        if os.fstat(fileno).st_size < map_from:
            return None  # the header need not be read twice for a small array
        version = npy_format.read_magic(fileobj)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(fileobj)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(fileobj)
        else:
            return None  # format 3.0 (utf-8 field names): never written here
        offset = fileobj.tell()
    except (OSError, ValueError):  # no real file (io.UnsupportedOperation), or not .npy
        return None
    if dtype.hasobject:
        return None  # numpy.load refuses it, without unpickling anything
    size = dtype.itemsize
    for side in shape:
        size *= side
    if size < map_from or size == 0:
        return None
    untracked: dict[str, Any] = {} if tracks_fd else {"trackfd": False}
    try:
        # ACCESS_COPY is MAP_PRIVATE: the array is writable, its writes stay in this process.
        data = mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY, **untracked)
    except (OSError, ValueError):  # a file system that cannot map, or no descriptor left
        return None
    if len(data) < offset + size:
        data.close()
        return None  # truncated: numpy.load reports it
    if tracks_fd:
        _tracked_maps.add(data)
    return numpy.ndarray(
        shape, dtype=dtype, buffer=data, offset=offset, order="F" if fortran_order else "C"
    )


def _is_exactly(value: Any, module: str, attribute: str) -> bool:
    # A value of a pandas or pyarrow type means that library is imported already, so
    # looking it up in sys.modules never imports anything for other values.
    loaded = sys.modules.get(module)
    return loaded is not None and type(value) is getattr(loaded, attribute, None)


def _parquet_round_trips(frame: Any) -> bool:
    # Parquet turns non-string column names into strings and loads object columns (lists,
    # mixed types, strings built as object) back as other types, so such frames go to pickle.
    if not all(type(name) is str for name in frame.columns):
        return False
    import numpy  # imported already: pandas needs it

    index_dtypes = list(frame.index.dtypes) if frame.index.nlevels > 1 else [frame.index.dtype]
    return not any(
        isinstance(dtype, numpy.dtype) and dtype.hasobject
        for dtype in [*frame.dtypes, *index_dtypes]
    )


class ParquetSerializer:
    """A ``pandas.DataFrame`` as Parquet, with its index, dtypes and ``attrs``.

    Handles frames whose column names are strings and which have no ``object`` column or
    index level: those are the frames Parquet gives back exactly. Others go to pickle.

    Example::

        frame = pandas.DataFrame({"x": [1, 2]}, index=["a", "b"])
        assert PARQUET.load(io.BytesIO(b"".join(PARQUET.dump(frame)))).equals(frame)
    """

    name = "parquet"

    def handles(self, value: Any) -> bool:
        return _is_exactly(value, "pandas", "DataFrame") and _parquet_round_trips(value)

    def dump(self, value: Any) -> list[Chunk]:
        buffer = io.BytesIO()
        try:
            value.to_parquet(buffer, engine="pyarrow")
        except Exception as exc:  # pyarrow raises several unrelated types for unsupported data
            raise _cannot_serialize(value, exc) from exc
        return [buffer.getbuffer()]

    def load(self, fileobj: IO[bytes]) -> Any:
        import pandas

        return pandas.read_parquet(fileobj, engine="pyarrow")


class ArrowParquetSerializer:
    """A ``pyarrow.Table`` as Parquet, loaded back as a ``pyarrow.Table``.

    Example::

        table = pyarrow.table({"x": [1, 2]})
        chunks = ARROW_PARQUET.dump(table)
        assert ARROW_PARQUET.load(io.BytesIO(b"".join(chunks))).equals(table)
    """

    name = "arrow-parquet"

    def handles(self, value: Any) -> bool:
        return _is_exactly(value, "pyarrow", "Table")

    def dump(self, value: Any) -> list[Chunk]:
        import pyarrow
        import pyarrow.parquet

        sink = pyarrow.BufferOutputStream()
        try:
            pyarrow.parquet.write_table(value, sink)
        except Exception as exc:  # pyarrow raises several unrelated types for unsupported data
            raise _cannot_serialize(value, exc) from exc
        return [memoryview(sink.getvalue())]

    def load(self, fileobj: IO[bytes]) -> Any:
        import pyarrow.parquet

        return pyarrow.parquet.read_table(fileobj)


class PickleSerializer:
    """Any other value, with cloudpickle (protocol 5), so lambdas and local classes work.

    Example::

        chunks = PICKLE.dump((1, "a"))
        assert PICKLE.load(io.BytesIO(b"".join(chunks))) == (1, "a")
    """

    name = "pickle"

    def handles(self, value: Any) -> bool:
        return True

    def dump(self, value: Any) -> list[Chunk]:
        try:
            return [cloudpickle.dumps(value, protocol=5)]
        except Exception as exc:  # pickling fails with TypeError, PicklingError, and more
            raise _cannot_serialize(value, exc) from exc

    def load(self, fileobj: IO[bytes]) -> Any:
        return pickle.load(fileobj)


JSON = JsonSerializer()
NPY = NpySerializer()
PARQUET = ParquetSerializer()
ARROW_PARQUET = ArrowParquetSerializer()
PICKLE = PickleSerializer()

SERIALIZERS: tuple[Serializer, ...] = (JSON, NPY, PARQUET, ARROW_PARQUET, PICKLE)
"""Every serializer, in the order :func:`serializer_for` tries them; pickle takes the rest."""

_BY_NAME: dict[str, Serializer] = {serializer.name: serializer for serializer in SERIALIZERS}


def serializer_for(value: Any) -> Serializer:
    """The first serializer in :data:`SERIALIZERS` that handles ``value``.

    Example::

        assert serializer_for({"a": 1}).name == "json"
        assert serializer_for((1, 2)).name == "pickle"
    """
    for serializer in SERIALIZERS:
        if serializer.handles(value):
            return serializer
    return PICKLE


def get_serializer(name: str) -> Serializer:
    """The serializer called ``name``; raises :class:`~dagwell.errors.StorageError` if none is.

    Example::

        assert get_serializer("npy") is NPY
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise StorageError(f"unknown serializer {name!r} (known: {known})") from None


def serialize(value: Any) -> tuple[Serializer, list[Chunk]]:
    """Serialize ``value`` with the serializer for it, falling back to pickle if that fails.

    Returns the serializer actually used and the chunks. Raises
    :class:`~dagwell.errors.SerializationError`, naming the value's type, when even pickle
    cannot write it.

    Example::

        serializer, chunks = serialize(numpy.zeros(3))
        assert serializer.name == "npy"
    """
    serializer = serializer_for(value)
    try:
        return serializer, list(serializer.dump(value))
    except SerializationError:
        if serializer is PICKLE:
            raise
    return PICKLE, PICKLE.dump(value)
