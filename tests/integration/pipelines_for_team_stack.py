"""Pipelines for the team-stack tests, at module level so process and Dask workers import them.

The rest of what those tests run comes from ``pipelines_for_tests.py``.
"""

from __future__ import annotations

import time

from pipelines_for_tests import bump

import dagwell as dw


@dw.task(timeout=1.0, retries=1)
def slow_first_time(counter: str) -> str:
    """Oversleeps its timeout on attempt 1; quick on attempt 2."""
    if bump(counter) == 1:
        time.sleep(60)
    return "quick the second time"


@dw.task
def meanwhile() -> str:
    """An independent branch: it runs on while the other one times out."""
    return "done meanwhile"


@dw.task
def both(first: str, second: str) -> str:
    return f"{first}, {second}"


@dw.pipeline
def times_out_once(counter: str = "") -> str:
    return both(slow_first_time(counter), meanwhile())
