"""W2 baseline: the same chain of 200 calls, in a loop in one process."""

from __future__ import annotations

DEPTH = 200


def step(x: int) -> int:
    """``x + 1``."""
    return x + 1


if __name__ == "__main__":
    x = 0
    for _ in range(DEPTH):
        x = step(x)
