"""W4, parallel CPU: 4 independent ~1.5 s pure-Python tasks, then a join; run with 2 workers.

With 2 workers the ideal is two rounds of 1.5 s; anything above that is the orchestrator.
"""

from __future__ import annotations

from cpu_burn import burn  # bench/workloads/cpu_burn.py: the loader puts this folder on sys.path

import dagwell as dw

TASKS = 4


@dw.task
def spin(seed: int) -> int:
    """About 1.5 s of pure-Python arithmetic."""
    return burn(seed)


@dw.task
def join(values: list[int]) -> int:
    """The sum of ``values``."""
    return sum(values)


@dw.pipeline
def w4_cpu() -> int:
    """Four CPU-bound tasks on two workers, then their sum."""
    return join([spin(i) for i in range(TASKS)])
