"""W1 baseline: the same 500 calls and the sum, in a loop in one process."""

from __future__ import annotations

WIDTH = 500


def noop(i: int) -> int:
    """Returns its argument."""
    return i


def total(values: list[int]) -> int:
    """The sum of ``values``."""
    return sum(values)


if __name__ == "__main__":
    total([noop(i) for i in range(WIDTH)])
