"""A pipeline for the live page tests: a task that talks, then waits for a flag file."""

from __future__ import annotations

import time
from pathlib import Path

import dagwell as dw


@dw.task
def talk(flag: str) -> str:
    """Prints a line, waits (up to a minute) until the file ``flag`` exists, prints another."""
    print("first line", flush=True)
    give_up_at = time.monotonic() + 60
    while not Path(flag).exists() and time.monotonic() < give_up_at:
        time.sleep(0.02)
    print("second line", flush=True)
    return "done"


@dw.task
def after(said: str) -> str:
    return said.upper()


@dw.pipeline
def chatty(flag: str = "") -> str:
    return after(talk(flag))
