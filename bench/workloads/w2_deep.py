"""W2, deep: a chain of 200 no-op tasks, each passing a small int to the next."""

from __future__ import annotations

import dagwell as dw

DEPTH = 200


@dw.task
def step(x: int) -> int:
    """``x + 1``."""
    return x + 1


@dw.pipeline
def w2_deep() -> int:
    """200 tasks in a line: per-task overhead where nothing can run in parallel."""
    x = 0
    for _ in range(DEPTH):
        x = step(x)
    return x
