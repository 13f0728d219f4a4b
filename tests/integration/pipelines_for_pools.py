"""Pipelines whose tasks use pools, at module level so process-executor workers import them.

Each task call writes its start and end times (``time.time()``, comparable across processes)
to a file ``NAME.ATTEMPT`` in a folder passed as an argument; :func:`intervals` reads them
back, and :func:`most_at_once` says how many ran at the same moment at most.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagwell as dw


def busy(folder: str, name: str, seconds: float) -> str:
    """Record a call of ``seconds`` seconds under ``name`` in ``folder`` (one file each)."""
    attempt = dw.current().attempt
    start = time.time()
    time.sleep(seconds)
    Path(folder, f"{name}.{attempt}").write_text(f"{start} {time.time()}")
    return name


def intervals(folder: str | Path) -> dict[str, tuple[float, float]]:
    """``{"NAME.ATTEMPT": (start, end)}`` of every recorded call."""
    found = {}
    for path in Path(folder).iterdir():
        start, end = path.read_text().split()
        found[path.name] = (float(start), float(end))
    return found


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of ``spans`` that overlap at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in edges:  # at equal times an end (-1) sorts first: touching is not overlap
        running += step
        most = max(most, running)
    return most


@dw.task(pool="gpu")
def on_gpu(folder: str, name: str, seconds: float = 0.3) -> str:
    return busy(folder, name, seconds)


@dw.task
def anywhere(folder: str, name: str, seconds: float = 0.1) -> str:
    return busy(folder, name, seconds)


@dw.task(pool="gpu", retries=1, retry_delay=0.2)
def gpu_fails_once(folder: str, name: str, seconds: float = 0.3) -> str:
    busy(folder, name, seconds)
    if dw.current().attempt == 1:
        raise RuntimeError("first attempt fails")
    return name


@dw.task(pool="gpu")
def gpu_fails(folder: str) -> None:
    busy(folder, "fails", 0.05)
    raise RuntimeError("always fails")


@dw.task(pool="nowhere")
def in_missing_pool() -> int:
    return 1


@dw.pipeline
def gpu_tasks(folder: str = "", n: int = 3, seconds: float = 0.3) -> list[str]:
    return [on_gpu(folder, f"gpu{i}", seconds) for i in range(n)]


@dw.pipeline
def gpu_and_free(folder: str = "") -> list[str]:
    return [on_gpu(folder, "gpu0", 0.6), on_gpu(folder, "gpu1", 0.6), anywhere(folder, "free")]


@dw.pipeline
def gpu_retry(folder: str = "") -> list[str]:
    return [gpu_fails_once(folder, "flaky"), on_gpu(folder, "steady")]


@dw.task
def names(n: int) -> list[str]:
    return [f"item{i}" for i in range(n)]


@dw.task(pool="gpu")
def gpu_item(name: str, folder: str) -> str:
    return busy(folder, name, 0.2)


@dw.pipeline
def gpu_mapped(folder: str = "", n: int = 3) -> list[str]:
    return gpu_item.map(names(n), folder=folder)  # type: ignore[no-any-return]


@dw.pipeline
def gpu_failure(folder: str = "") -> None:
    gpu_fails(folder)


@dw.pipeline
def missing_pool() -> int:
    return in_missing_pool()
