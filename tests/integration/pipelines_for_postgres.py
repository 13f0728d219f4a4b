"""Pipelines for the PostgreSQL run tests: a wide fan-out that records a bit of everything.

``wide`` waits for its sibling runs, reads a dataset, fans out over :data:`WIDTH` nodes
(each logs params and metrics, one of them NaN and infinite values), gathers their outputs,
registers a model and calls a cached task. Several of its runs at once write every kind of
row at the same time, including the same artifacts, dataset version and model name.
``mends`` fails until a flag file exists, for resuming. Tasks live at module level so
process workers can import them.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import dagwell as dw

WIDTH = 30
"""Nodes of the fan-out in :func:`wide`."""


def bump(counter: str) -> int:
    """Add one to the number in file ``counter`` (appending, so concurrent calls all count)."""
    with open(counter, "a") as out:
        out.write("x")
    return len(Path(counter).read_text())


@dw.task
def together(gate: str, runs: int) -> int:
    """Wait until ``runs`` runs have reached this task (one file each in folder ``gate``)."""
    if not gate:
        return 1
    Path(gate, dw.current().run_id).touch()
    give_up_at = time.monotonic() + 60
    while len(os.listdir(gate)) < runs:
        if time.monotonic() > give_up_at:
            raise RuntimeError(f"only {len(os.listdir(gate))} of {runs} runs arrived")
        time.sleep(0.01)
    return runs


@dw.task
def count_lines(path: str, ready: int) -> int:
    with open(path) as f:
        return sum(1 for _ in f)


@dw.task
def work(index: int, lines: int) -> dict[str, Any]:
    dw.log_params({"index": index, "lines": lines})
    for step in range(3):
        dw.log_metric("loss", 1.0 / (index + step + 1), step=step)
    if index == 0:
        dw.log_metrics({"odd": math.nan, "big": math.inf, "small": -math.inf})
    return {"index": index, "square": index * index, "lines": lines}


@dw.task
def gather(results: list[dict[str, Any]]) -> int:
    total = sum(r["square"] for r in results)
    dw.log_model({"total": total, "count": len(results)}, "wide_model")
    return total


@dw.task(cache=True)
def expensive(x: int, counter: str) -> int:
    bump(counter)
    return x * 100


@dw.pipeline
def wide(path: str = "", counter: str = "", x: int = 1, gate: str = "", runs: int = 2) -> Any:
    """A dataset, :data:`WIDTH` nodes fanned out, a gather with a model, a cached call.

    With a ``gate`` folder, the runs wait for each other before the dataset is read, so
    everything after happens in all of them at once.
    """
    lines = count_lines(dw.dataset(path), together(gate, runs))
    parts = [work(i, lines) for i in range(WIDTH)]
    return {"total": gather(parts), "cached": expensive(x, counter)}


@dw.task
def breaks_once(index: int, flag: str) -> int:
    if index == 3 and not os.path.exists(flag):
        raise ValueError("item 3 is broken until the flag file exists")
    return index * 10


@dw.pipeline
def mends(flag: str = "", counter: str = "") -> dict[str, Any]:
    """Eight nodes, one failing until ``flag`` exists, and a cached call."""
    values = [breaks_once(i, flag) for i in range(8)]
    return {"values": values, "cached": expensive(7, counter)}
