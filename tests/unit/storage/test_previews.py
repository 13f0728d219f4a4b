"""Previews of stored values: small JSON-able looks, and nothing unpickled."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy
import pytest

from dagwell.core.values import GATHER, StoredValue
from dagwell.storage import previews
from dagwell.storage.artifacts import ArtifactStore
from dagwell.storage.previews import jsonable, preview


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"), fsync=False)


def test_inline_value(store: ArtifactStore) -> None:
    shown = preview(store, store.put({"a": [1, 2]}))
    assert shown == {
        "serializer": "json",
        "type": "dict",
        "size": shown["size"],
        "hash": None,
        "kind": "value",
        "value": {"a": [1, 2]},
    }


def test_gathered_fan_out_is_described(store: ArtifactStore) -> None:
    items = [store.put(i).to_json() for i in range(3)]
    gathered = StoredValue("h" * 64, GATHER, 0, "list", is_inline=True, inline=items)
    shown = preview(store, gathered)
    assert shown["kind"] == "metadata" and "3 items" in shown["reason"]


def test_big_json_is_cut(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(previews, "MAX_JSON_BYTES", 100)
    shown = preview(store, store.put(list(range(1000))))
    assert shown["kind"] == "value" and shown["truncated"] is True
    assert shown["text"].startswith("[0,1,2") and len(shown["text"]) == 100


def test_array_stats_skip_nan(store: ArtifactStore) -> None:
    shown = preview(store, store.put(numpy.array([1.0, math.nan, 3.0, math.inf])))
    assert shown["stats"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "std": 1.0, "nan": 1.0}
    assert shown["head"] == [1.0, None, 3.0, None]


def test_array_of_text_has_no_stats(store: ArtifactStore) -> None:
    shown = preview(store, store.put(numpy.array(["a", "b"])), rows=1)
    assert shown["stats"] is None and shown["head"] == ["a"] and shown["truncated"] is True


def test_table_head(store: ArtifactStore) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {"when": pandas.to_datetime(["2026-01-01", "2026-01-02"]), "n": [1, 2]}
    )
    shown = preview(store, store.put(frame), rows=1)
    assert shown["columns"] == ["when", "n"]
    assert shown["rows"] == [["2026-01-01T00:00:00", 1]]
    assert shown["shape"] == [2, 2] and shown["truncated"] is True


def test_pickled_and_big_values_are_not_opened(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    shown = preview(store, store.put((1, 2)))
    assert shown["kind"] == "metadata" and shown["serializer"] == "pickle"
    monkeypatch.setattr(previews, "MAX_BYTES", 10)
    assert "too big" in preview(store, store.put(numpy.zeros(100)))["reason"]


def test_jsonable() -> None:
    moment = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert jsonable({"t": moment, "d": Decimal("1.5"), "x": (1, math.nan), 2: b"ab"}) == {
        "t": "2026-01-02T00:00:00+00:00",
        "d": "1.5",
        "x": [1, None],
        "2": "b'ab'",
    }
    assert jsonable(object()).startswith("<object object")
