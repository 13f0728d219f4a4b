"""Cache keys: arguments sorted into inputs, datasets and values; digests; misses explained."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import dagwell as dw
from dagwell.core.datasets import Dataset
from dagwell.core.values import ItemOf, StoredValue
from dagwell.errors import DefinitionError
from dagwell.tracking.cache_keys import (
    TASK_PART,
    CacheKey,
    CodeFingerprint,
    cache_key,
    explain_miss,
)


def stored(digest: str) -> StoredValue:
    return StoredValue(hash=digest, serializer="pickle", size=10, type_name="ndarray")


@dw.task
def train(data: Any, models: Any = None, C: float = 1.0, raw: Any = None) -> None:
    """A task whose key is built below; its body does not matter."""


TRAIN = stored("3fa2c1" + "0" * 58)
TEST = stored("9bd0e2" + "1" * 58)
DATA = Dataset("/data/churn.csv")


def key(**kwargs: Any) -> CacheKey:
    arguments = {"models": [TRAIN, ItemOf(TEST, 2), 0.5], "C": 1.0, "raw": DATA, **kwargs}
    versions = {"/data/churn.csv": "4f1c" + "a" * 60, "/data/other.csv": "5e5e" + "b" * 60}
    return cache_key(train, (TRAIN,), arguments, versions)


def test_a_key_sorts_arguments_into_inputs_datasets_and_values() -> None:
    built = key()
    assert built.inputs == {
        "args[0]": TRAIN.hash,
        "kwargs.models[0]": TRAIN.hash,
        "kwargs.models[1]": f"{TEST.hash}[2]",
    }
    assert built.datasets == {"/data/churn.csv": "4f1c" + "a" * 60}
    assert set(built.values) == {"kwargs.C", "kwargs.models[2]", "kwargs.raw"}
    assert built == key() and built.digest == key().digest


def test_each_component_changes_the_key_and_is_explained() -> None:
    base = key()
    cases = {
        "input kwargs.models[0] changed (artifact 3fa2c1… -> 9bd0e2…)": key(
            models=[TEST, ItemOf(TEST, 2), 0.5]
        ),
        "input kwargs.models[1] changed (artifact 9bd0e2…[2] -> 9bd0e2…[3])": key(
            models=[TRAIN, ItemOf(TEST, 3), 0.5]
        ),
        "argument kwargs.C changed": key(C=0.5),
        "argument kwargs.models[2] changed": key(models=[TRAIN, ItemOf(TEST, 2), 0.25]),
    }
    for sentence, changed in cases.items():
        assert changed.digest != base.digest
        assert explain_miss(base, changed) == [sentence]

    moved = key(raw=Dataset("/data/other.csv"))
    assert explain_miss(base, moved) == [
        "dataset /data/churn.csv is no longer read",
        "dataset /data/other.csv is new (version 5e5ebb…)",
        "argument kwargs.raw changed",
    ]

    newer = cache_key(
        train,
        (TRAIN,),
        {"models": [TRAIN, ItemOf(TEST, 2), 0.5], "C": 1.0, "raw": DATA},
        {"/data/churn.csv": "77ab" + "c" * 60},
    )
    assert explain_miss(base, newer) == [
        "dataset /data/churn.csv changed (version 4f1caa… -> 77abcc…)"
    ]


def test_an_argument_that_becomes_a_task_output_is_explained_once() -> None:
    assert explain_miss(key(C=1.0), key(C=TEST)) == ["input kwargs.C is new (artifact 9bd0e2…)"]


def test_plain_values_are_canonical_across_key_order_sets_and_types() -> None:
    assert key(C={"b": 1, "a": {2, 1}}) == key(C={"a": {1, 2}, "b": 1})
    assert key(C=(1, 2)).digest != key(C=[1, 2]).digest
    assert key(C=1).digest != key(C=1.0).digest != key(C=True).digest
    assert key(C=np.arange(3)) == key(C=np.arange(3))
    assert key(C=np.arange(3)).digest != key(C=np.arange(4)).digest


def typed_in_a_repl(source: str, module: str) -> Any:
    """The function ``source`` defines, run as in a REPL (no readable source file)."""
    scope: dict[str, Any] = {"__name__": module}
    exec(compile(source, "<stdin>", "exec"), scope)
    return scope["loss"]


def test_a_function_passed_as_an_argument_counts_by_its_code() -> None:
    first = typed_in_a_repl("def loss(y):\n    return y\n", "losses_a")
    second = typed_in_a_repl("def loss(y):\n    return -y\n", "losses_a")
    assert key(C=first) == key(C=first)
    assert key(C=first).digest != key(C=second).digest
    assert key(C=np.mean) == key(C=np.mean)


def test_an_argument_that_cannot_be_hashed_is_a_clear_error() -> None:
    with pytest.raises(DefinitionError, match=r"argument kwargs\.C \(generator\)"):
        key(C=(i for i in range(3)))


def test_a_dataset_without_a_version_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no version was given for dataset '/x\.csv'"):
        cache_key(train, (Dataset("/x.csv"),), {}, {})


def test_a_miss_lists_code_then_version_inputs_datasets_and_arguments() -> None:
    before = CacheKey(
        CodeFingerprint("fit", {TASK_PART: "a", "f.clean": "b", "f.old": "c"}),
        version="1",
        inputs={"kwargs.train": "3fa2c1aa"},
        datasets={"/data/churn.csv": "4f1c0000"},
        values={"kwargs.C": "x"},
    )
    after = CacheKey(
        CodeFingerprint("fit", {TASK_PART: "A", "f.clean": "B", "f.scale": "d"}),
        version="2",
        inputs={"kwargs.train": "9bd0e2bb"},
        datasets={"/data/churn.csv": "77ab0000"},
        values={"kwargs.C": "y"},
    )
    assert explain_miss(before, after) == [
        "code of task 'fit' changed",
        "helper 'f.clean' changed",
        "helper 'f.scale' is new",
        "helper 'f.old' is no longer used",
        "version changed from '1' to '2'",
        "input kwargs.train changed (artifact 3fa2c1… -> 9bd0e2…)",
        "dataset /data/churn.csv changed (version 4f1c00… -> 77ab00…)",
        "argument kwargs.C changed",
    ]


def test_equal_keys_explain_nothing() -> None:
    assert explain_miss(key(), key()) == []


def test_a_key_round_trips_through_json() -> None:
    original = key()
    text = json.dumps(original.to_json())
    restored = CacheKey.from_json(json.loads(text))

    assert restored == original
    assert restored.digest == original.digest == json.loads(text)["digest"]
    assert explain_miss(restored, original) == []
    assert hash(restored) == hash(original)
    with_outputs = CacheKey(original.code, outputs=("a", "b"))
    assert CacheKey.from_json(with_outputs.to_json()) == with_outputs


def test_a_key_is_a_frozen_value() -> None:
    with pytest.raises(AttributeError):
        key().version = "2"  # type: ignore[misc]
