"""The smallest useful pipeline: params, a fan-out, a shell task and a join.

dagwell run examples/hello.py -p n=4
"""

from __future__ import annotations

import logging

import dagwell as dw

log = logging.getLogger(__name__)


@dw.task
def numbers(n: int) -> list[int]:
    """The integers 1..n."""
    return list(range(1, n + 1))


@dw.task
def square(x: int) -> int:
    """x squared, logged."""
    log.info("squaring %d", x)
    return x * x


@dw.task
def total(values: list[int]) -> int:
    """The sum of ``values``."""
    print(f"adding {len(values)} values")
    return sum(values)


shout = dw.shell("shout", "echo total is {value}")


@dw.pipeline
def hello(n: int = 3) -> dict[str, int]:
    """Square 1..n in parallel, add the squares up, and echo the sum from Bash."""
    squares = square.map(numbers(n))
    result = total(squares)
    shout(value=result)
    return {"total": result}
