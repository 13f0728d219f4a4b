"""W3 baseline: make the 200 MB array, ``np.save`` it to a temporary file, ``np.load`` it, sum.

The file goes under ``tempfile.gettempdir()``; ``bench/run.py`` points ``TMPDIR`` at the
same folder that holds dagwell's home, so both write to the same disk.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

SIZE = 25_000_000  # float64: 200 MB


def make() -> np.ndarray:
    """``0.0, 1.0, ... SIZE - 1``."""
    return np.arange(SIZE, dtype=np.float64)


def add_up(array: np.ndarray) -> float:
    """The sum of ``array``."""
    return float(array.sum())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "array.npy")
        array = make()
        np.save(path, array)
        del array  # the hand-off: the consumer sees only what is on disk
        add_up(np.load(path))
