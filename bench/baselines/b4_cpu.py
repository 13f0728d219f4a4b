"""W4 baseline: the same 4 CPU-bound calls on ``ProcessPoolExecutor(2)``, then the join."""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workloads"))

from cpu_burn import burn  # the same function the W4 pipeline runs

TASKS = 4


def join(values: list[int]) -> int:
    """The sum of ``values``."""
    return sum(values)


if __name__ == "__main__":
    with ProcessPoolExecutor(2) as pool:
        join(list(pool.map(burn, range(TASKS))))
