"""W0 baseline: an interpreter start plus the same no-op call (``python -c pass`` and a call)."""

from __future__ import annotations


def noop() -> None:
    """Does nothing."""


if __name__ == "__main__":
    noop()
