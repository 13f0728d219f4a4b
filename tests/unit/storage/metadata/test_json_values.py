"""The JSON text of the metadata columns: strict JSON, non-finite floats round-tripped."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagwell.storage.metadata.json_values import FLOAT_KEY, dumps, loads

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(JSON_VALUES)
def test_every_value_round_trips_through_strict_json(value: Any) -> None:
    text = dumps(value)

    json.loads(text, parse_constant=lambda word: pytest.fail(f"not strict JSON: {word}"))
    assert same(loads(text), value)
    assert same(loads(text.encode()), value)  # psycopg hands over bytes


def test_non_finite_floats_become_marked_objects() -> None:
    assert dumps({"a": [math.nan, math.inf, -math.inf, 1.5]}) == (
        '{"a": [{"__dagwell_float__": "nan"}, {"__dagwell_float__": "inf"}, '
        '{"__dagwell_float__": "-inf"}, 1.5]}'
    )
    assert dumps((1, math.inf)) == '[1, {"__dagwell_float__": "inf"}]'
    assert FLOAT_KEY == "__dagwell_float__"


def test_finite_values_are_written_as_plain_json() -> None:
    assert dumps({"C": 0.5, "names": ["a"]}) == json.dumps({"C": 0.5, "names": ["a"]})


def test_objects_that_only_look_like_a_mark_stay_objects() -> None:
    for text in (
        '{"__dagwell_float__": "one"}',
        '{"__dagwell_float__": "nan", "other": 1}',
        '{"__dagwell_float__": ["nan"]}',
    ):
        assert loads(text) == json.loads(text)


def test_values_json_cannot_hold_still_fail() -> None:
    with pytest.raises(TypeError):
        dumps({"when": object()})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps(loop)
