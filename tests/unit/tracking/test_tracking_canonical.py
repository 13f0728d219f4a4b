"""Canonical values: one JSON form for equal values, in every process, and its digest."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any
from unittest import mock

import numpy as np
import pytest
from blake3 import blake3

import dagwell as dw
from dagwell.core.datasets import Dataset
from dagwell.core.values import ItemOf, StoredValue
from dagwell.tracking.canonical import (
    callable_name,
    canonical,
    dumps,
    hash_json,
    hash_text,
    innermost,
    is_literal,
    wrapped,
)


def text(value: Any) -> str:
    """The JSON that is hashed for ``value``."""
    return dumps(canonical(value, callable_name))


def scale(x: float, factor: float = 2.0) -> float:
    return x * factor


class Scaler:
    def apply(self, x: float) -> float:
        return x


# -- canonical ---------------------------------------------------------------------------


def test_equal_dicts_in_any_key_order_give_the_same_json() -> None:
    assert text({"b": 1, "a": [1, 2]}) == text({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'
    assert text({2: "x", "k": 1}) == text({"k": 1, 2: "x"})
    assert text({"a": 1, "b": 2}) != text({"a": 1, "b": 3})


def test_values_json_would_merge_stay_apart() -> None:
    """Tuples, sets, numbers of other types and dicts shaped like tagged forms."""
    forms = [
        [1, 2],
        (1, 2),
        {1, 2},
        1,
        1.0,
        True,
        "1",
        {"1": "a"},
        {1: "a"},
        {"__tuple__": [1, 2]},
    ]
    assert len({text(value) for value in forms}) == len(forms)


def test_sets_are_sorted_so_their_json_does_not_depend_on_the_hash_seed() -> None:
    assert canonical({"c", "a", "b"}, callable_name) == {"__set__": ["a", "b", "c"]}
    assert text(frozenset({3, 1, 2})) == text({2, 3, 1})


def test_the_same_set_hashes_alike_under_different_hash_seeds() -> None:
    program = (
        "from dagwell.tracking.canonical import callable_name, canonical, hash_json\n"
        "value = [{'alpha', 'beta', 'gamma'}, {('x', 1): {'k', 'm'}, 'y': frozenset('ab')}]\n"
        "print(hash_json(canonical(value, callable_name)))"
    )
    digests = set()
    for seed in ("1", "2", "3"):
        run = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(run.stdout.strip())
    assert len(digests) == 1


def test_nan_and_infinities_have_a_json_form_equal_to_itself() -> None:
    """NaN != NaN, but its canonical form is equal to itself and is strict JSON."""
    nan, inf = float("nan"), float("inf")
    assert canonical(nan, callable_name) == canonical(nan, callable_name)
    assert text([nan, inf, -inf]) == (
        '[{"__float__":"nan"},{"__float__":"inf"},{"__float__":"-inf"}]'
    )


def test_nested_containers_keep_their_shape() -> None:
    assert canonical({"a": [1, (2, {3})], "b": None}, callable_name) == {
        "a": [1, {"__tuple__": [2, {"__set__": [3]}]}],
        "b": None,
    }


def test_artifacts_items_and_datasets_count_by_their_content_or_uri() -> None:
    small = StoredValue(hash="ab" * 32, serializer="pickle", size=1, type_name="int")
    other_size = StoredValue(hash="ab" * 32, serializer="json", size=9, type_name="int")
    assert canonical(small, callable_name) == {"__artifact__": "ab" * 32}
    assert text(small) == text(other_size)
    assert canonical(ItemOf(small, 2), callable_name) == {"__item__": ["ab" * 32, 2]}
    assert canonical(Dataset("/data/a.csv"), callable_name) == {"__dataset__": "/data/a.csv"}


def test_functions_classes_partials_and_tasks_are_named_by_callable_id() -> None:
    def label(value: Any) -> str:
        return f"<{callable_name(value)}>"

    here = __name__
    assert canonical(scale, label) == {"__callable__": f"<{here}.scale>"}
    assert canonical(Scaler, label) == {"__callable__": f"<{here}.Scaler>"}
    assert canonical(functools.partial(scale, 1.0), label) == {"__callable__": f"<{here}.scale>"}
    assert canonical(dw.task(scale), label) == {"__callable__": f"<{here}.scale>"}
    assert canonical(Scaler().apply, label) == {"__callable__": f"<{here}.Scaler.apply>"}


def test_other_objects_count_by_their_pickled_bytes() -> None:
    assert text(np.arange(3)) == text(np.arange(3))
    assert text(np.arange(3)) != text(np.arange(4))
    assert set(canonical(np.arange(3), callable_name)) == {"__pickle__"}


def test_a_value_that_cannot_be_pickled_raises_the_pickling_error() -> None:
    """No made-up form: the caller (a cache key) turns this into a DefinitionError."""
    with pytest.raises(TypeError, match="generator"):
        canonical((i for i in range(3)), callable_name)


# -- names of callables ------------------------------------------------------------------


def test_callable_name_is_the_function_behind_wrappers_partials_methods_and_tasks() -> None:
    @functools.wraps(scale)
    def logged(*args: Any) -> float:
        return scale(*args)

    expected = f"{__name__}.scale"
    for value in (scale, logged, functools.partial(logged, 1.0), dw.task(scale)):
        assert callable_name(value) == expected
    assert callable_name(Scaler().apply) == f"{__name__}.Scaler.apply"
    assert callable_name(len) == "builtins.len"


def test_a_mock_is_not_taken_for_a_wrapper() -> None:
    """A Mock makes up a new ``__wrapped__`` each time; only a real attribute counts."""
    fake = mock.Mock()
    assert wrapped(fake) is None
    assert innermost(fake) is fake


def test_innermost_stops_at_a_function_that_wraps_itself() -> None:
    def loop() -> None:
        pass

    loop.__wrapped__ = loop  # type: ignore[attr-defined]
    assert innermost(loop) is loop


# -- literals ----------------------------------------------------------------------------


def test_plain_data_within_the_budget_is_a_literal() -> None:
    assert is_literal({"a": [1, 2.5, None], b"k": (True, 1j)}, [100])
    assert not is_literal([1, object()], [100])
    assert not is_literal([np.float64(1.0)], [100])


def test_each_value_and_container_spends_the_literal_budget() -> None:
    budget = [3]
    assert is_literal([1, 2], budget)
    assert budget == [0]
    assert not is_literal([1, 2, 3], [3])


# -- the text that is hashed -------------------------------------------------------------


def test_dumps_sorts_keys_drops_spaces_and_keeps_non_ascii() -> None:
    assert dumps({"b": "é", "a": [1, 2]}) == '{"a":[1,2],"b":"é"}'


def test_hash_json_is_the_blake3_hex_digest_of_the_dumped_json() -> None:
    digest = hash_json({"b": 1, "a": [1, 2]})
    assert digest == blake3(b'{"a":[1,2],"b":1}').hexdigest()
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert hash_json({"a": [1, 2], "b": 1}) == digest
    assert hash_json({"a": [1, 2], "b": 2}) != digest
    assert json.loads(dumps({"b": 1, "a": [1, 2]})) == {"a": [1, 2], "b": 1}


def test_hash_text_hashes_utf8_and_keeps_lone_surrogates() -> None:
    assert hash_text("é") == blake3("é".encode()).hexdigest()
    assert hash_text("\ud800") != hash_text("\ud801")
