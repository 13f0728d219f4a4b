"""A pipeline where one branch fails: shows retries, upstream_failed and a failed run.

dagwell run examples/flaky.py       # exits 1; `dagwell logs RUN broken` shows why
"""

from __future__ import annotations

import dagwell as dw


@dw.task
def load() -> list[int]:
    """Some data."""
    return [1, 2, 3]


@dw.task(retries=2, retry_delay=0.1)
def broken(data: list[int]) -> int:
    """Always fails, after printing what it was given."""
    print(f"got {data}, attempt {dw.current().attempt}")
    raise ValueError("the model did not converge")


@dw.task
def after_broken(value: int) -> int:
    """Never runs: its input failed."""
    return value


@dw.task
def independent(data: list[int]) -> int:
    """An independent branch that still succeeds."""
    return sum(data)


@dw.pipeline
def flaky() -> None:
    """One failing branch, one healthy one."""
    data = load()
    after_broken(broken(data))
    independent(data)
