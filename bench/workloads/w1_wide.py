"""W1, wide: 500 independent no-op tasks, then one task summing their 500 outputs.

The 500 calls are static (a list comprehension), so the graph has 501 nodes before the
run starts and nothing is expanded at run time.
"""

from __future__ import annotations

import dagwell as dw

WIDTH = 500


@dw.task
def noop(i: int) -> int:
    """Returns its argument."""
    return i


@dw.task
def total(values: list[int]) -> int:
    """The sum of ``values``."""
    return sum(values)


@dw.pipeline
def w1_wide() -> int:
    """500 no-ops fanned in to one sum: per-task overhead with no dependencies."""
    return total([noop(i) for i in range(WIDTH)])
