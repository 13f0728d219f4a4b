"""Pipelines for the cancel tests, at module level so process and Dask workers import them.

``long_wait`` runs ``first``, then ``wait_long``, which writes its worker's pid to a file
and sleeps until killed, then ``after``: a cancelled run stops in ``wait_long`` and never
starts ``after``. ``cancels_itself`` (inline) asks to cancel its own run from inside a task.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagwell as dw


@dw.task
def first() -> int:
    return 1


@dw.task
def wait_long(x: int, pid_file: str) -> int:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)
    return x


@dw.task
def after(x: int) -> int:
    return x + 1


@dw.pipeline
def quick() -> int:
    return first()


@dw.pipeline
def long_wait(pid_file: str = "") -> int:
    return after(wait_long(first(), pid_file))


@dw.task
def ask_to_cancel(home: str, seconds: float) -> str:
    """Cancel this task's own run, then keep running: an inline task is never interrupted."""
    settings = dw.Settings.from_env({}, home=home)
    dw.cancel(dw.current().run_id, by="alice", settings=settings)
    time.sleep(seconds)
    return "returned"


@dw.task
def echo(text: str) -> str:
    return text


@dw.pipeline
def cancels_itself(home: str = "", seconds: float = 0.5) -> str:
    return echo(ask_to_cancel(home, seconds))
