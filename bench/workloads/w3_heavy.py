"""W3, heavy data: task A makes a 200 MB float64 array, task B sums it.

The array crosses from one worker process to another through the artifact store, so this
times the persisted hand-off (serialize, hash, write, fsync, read back).
"""

from __future__ import annotations

import numpy as np

import dagwell as dw

SIZE = 25_000_000  # float64: 200 MB


@dw.task
def make() -> np.ndarray:
    """``0.0, 1.0, ... SIZE - 1``."""
    return np.arange(SIZE, dtype=np.float64)


@dw.task
def add_up(array: np.ndarray) -> float:
    """The sum of ``array``."""
    return float(array.sum())


@dw.pipeline
def w3_heavy() -> float:
    """A 200 MB array handed from one task to the next."""
    return add_up(make())
