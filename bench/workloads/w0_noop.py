"""W0, start-up: a pipeline of one no-op task, timed through ``dagwell run``."""

from __future__ import annotations

import dagwell as dw


@dw.task
def noop() -> None:
    """Does nothing."""


@dw.pipeline
def w0_noop() -> None:
    """One node: what a run costs before any real work."""
    noop()
