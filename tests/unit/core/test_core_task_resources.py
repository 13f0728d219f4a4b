"""``@dw.task(resources=...)``: what a call needs of the worker that runs it (Dask)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import dagwell as dw
from dagwell.errors import DefinitionError


def test_resources_default_to_none() -> None:
    @dw.task
    def plain() -> None: ...

    assert plain.resources == {}


def test_resources_are_kept_as_a_copy() -> None:
    wanted: dict[str, float] = {"GPU": 1, "memory_gb": 8.5}

    @dw.task(resources=wanted)
    def fit() -> None: ...

    wanted["GPU"] = 4
    assert fit.resources == {"GPU": 1, "memory_gb": 8.5}


def test_shell_tasks_take_resources_too() -> None:
    count = dw.shell("count", "wc -l < {path}", resources={"GPU": 1})

    assert count.resources == {"GPU": 1}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ("GPU", "must map resource names to amounts"),
        ({"": 1}, "non-empty string"),
        ({1: 1}, "non-empty string"),
        ({"GPU": 0}, "'GPU' needs a positive amount"),
        ({"GPU": -2}, "'GPU' needs a positive amount"),
        ({"GPU": math.inf}, "'GPU' needs a positive amount"),
        ({"GPU": math.nan}, "'GPU' needs a positive amount"),
        ({"GPU": True}, "'GPU' needs a positive amount"),
        ({"GPU": "1"}, "'GPU' needs a positive amount"),
    ],
)
def test_bad_resources_are_refused_naming_the_task(resources: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=rf"task 'fit': .*{message}"):

        @dw.task(resources=resources)
        def fit() -> None: ...
