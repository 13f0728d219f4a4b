"""Previews: a small, JSON-able look at a stored value, made without unpickling anything.

Only values whose serializer reads plain data are opened: ``json``, ``npy`` (read with
``allow_pickle=False``), and ``parquet`` / ``arrow-parquet`` (read with pyarrow, first rows
only). A pickled value would run code while loading, so its preview says what it is (type,
size) and nothing more; so does a value too big to open for a glance.

A preview is a dict with ``kind``:

``value``     small JSON in ``value`` (or, cut short, its start as ``text``)
``array``     ``shape``, ``dtype``, ``stats`` (min, max, mean, std) and the first items as ``head``
``table``     ``columns``, ``dtypes``, ``shape`` and the first ``rows``
``metadata``  nothing opened; ``reason`` says why
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from dagwell.core.values import GATHER, StoredValue
from dagwell.storage.artifacts import ArtifactStore

SAFE_SERIALIZERS = frozenset({"json", "npy", "parquet", "arrow-parquet"})
"""Serializers whose bytes are read as plain data: loading them never runs code."""

MAX_BYTES = 64 * 1024 * 1024
"""Values bigger than this are described, not opened."""

MAX_JSON_BYTES = 256 * 1024
"""JSON bigger than this is shown as the start of its text."""

ROWS = 20
"""Rows of a table, and items of an array, a preview shows."""


def preview(store: ArtifactStore, stored: StoredValue, *, rows: int = ROWS) -> dict[str, Any]:
    """A JSON-able preview of ``stored`` (see the module docstring for its shape).

    >>> preview(store, run.tasks["split"].outputs["train"])["columns"]
    ['age', 'plan', 'churned']
    """
    base: dict[str, Any] = {
        "serializer": stored.serializer,
        "type": stored.type_name,
        "size": stored.size,
        "hash": None if stored.is_inline else stored.hash,
    }
    if stored.is_inline:
        if stored.serializer == GATHER:
            return {**base, "kind": "metadata", "reason": _gathered(stored)}
        return {**base, "kind": "value", "value": jsonable(stored.inline)}
    if stored.serializer not in SAFE_SERIALIZERS:
        reason = (
            "pickled values are not previewed: loading one runs code"
            if stored.serializer == "pickle"
            else f"values stored as {stored.serializer!r} are not previewed"
        )
        return {**base, "kind": "metadata", "reason": reason}
    if stored.size > MAX_BYTES:
        return {**base, "kind": "metadata", "reason": f"too big to preview ({stored.size} bytes)"}
    with store.open(stored.hash) as fileobj:
        if stored.serializer == "json":
            return {**base, **_json(fileobj.read())}
        if stored.serializer == "npy":
            return {**base, **_array(fileobj, rows)}
        return {**base, **_table(fileobj, rows)}


def _gathered(stored: StoredValue) -> str:
    count = len(stored.inline or []) if isinstance(stored.inline, list) else 0
    return f"a fan-out's {count} items: preview each item's node"


def _json(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_JSON_BYTES:
        text = data[:MAX_JSON_BYTES].decode(errors="replace")
        return {"kind": "value", "text": text, "truncated": True}
    return {"kind": "value", "value": jsonable(json.loads(data))}


def _array(fileobj: Any, rows: int) -> dict[str, Any]:
    import numpy

    array = numpy.load(fileobj, allow_pickle=False)
    flat = array.reshape(-1)
    return {
        "kind": "array",
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "stats": _stats(array),
        "head": jsonable(flat[:rows].tolist()),
        "truncated": flat.size > rows,
    }


def _stats(array: Any) -> dict[str, float | None] | None:
    import numpy

    if array.size == 0 or array.dtype.names is not None:
        return None
    if not (numpy.issubdtype(array.dtype, numpy.number) or array.dtype == numpy.bool_):
        return None
    if numpy.iscomplexobj(array):
        return None
    values = array.astype(numpy.float64, copy=False)
    finite = values[numpy.isfinite(values)]
    if finite.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "nan": _nans(values)}
    return {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "nan": _nans(values),
    }


def _nans(values: Any) -> float:
    import numpy

    return float(numpy.isnan(values).sum())


def _table(fileobj: Any, rows: int) -> dict[str, Any]:
    import pyarrow.parquet

    # pyarrow reads Parquet as plain data; since 14.0.1 it never unpickles extension types.
    parquet = pyarrow.parquet.ParquetFile(fileobj)
    schema = parquet.schema_arrow
    columns = [name for name in schema.names if not _is_index(name)]
    head: list[list[Any]] = []
    for batch in parquet.iter_batches(batch_size=max(rows, 1), columns=columns):
        head = [[jsonable(row[c]) for c in columns] for row in batch.to_pylist()[:rows]]
        break
    total = parquet.metadata.num_rows
    return {
        "kind": "table",
        "columns": columns,
        "dtypes": {name: str(schema.field(name).type) for name in columns},
        "shape": [total, len(columns)],
        "rows": head,
        "truncated": total > len(head),
    }


def _is_index(name: str) -> bool:
    """pandas stores an unnamed index as a column called ``__index_level_N__``."""
    return name.startswith("__index_level_") and name.endswith("__")


def jsonable(value: Any, *, depth: int = 0) -> Any:
    """``value`` as JSON-able data: times as ISO text, bytes and others as short text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if depth < 20 and isinstance(value, (list, tuple)):
        return [jsonable(v, depth=depth + 1) for v in value]
    if depth < 20 and isinstance(value, Mapping):
        return {str(k): jsonable(v, depth=depth + 1) for k, v in value.items()}
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
