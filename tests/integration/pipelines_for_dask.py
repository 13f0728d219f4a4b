"""Tasks and pipelines for the Dask executor tests, at module level so Dask workers import them.

Workers of a LocalCluster started by the tests (or by dagwell) are spawned with the test
process's ``sys.path``, which ``tests/conftest.py`` gives this folder. Tasks that behave
differently from one attempt to the next count their calls in a file named by a param.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import dagwell as dw

BIG = 6_250_000  # float64 items: 50 MB


def bump(counter: str) -> int:
    """Add one to the number in file ``counter`` and return the new number (1 on first call)."""
    path = Path(counter)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


# -- a 50 MB array from one task to the next ----------------------------------------------


@dw.task
def make_big(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.float64)


@dw.task
def add_up(values: np.ndarray) -> float:
    return float(values.sum())


@dw.pipeline
def big_data(n: int = BIG) -> float:
    return add_up(make_big(n))


# -- retries with backoff -----------------------------------------------------------------


@dw.task(retries=2, retry_delay=0.3, retry_backoff=2.0)
def fails_twice(counter: str) -> str:
    if bump(counter) < 3:
        raise RuntimeError("not yet")
    return "third time lucky"


@dw.pipeline
def flaky(counter: str = "") -> str:
    return fails_twice(counter)


# -- a timeout, then a retry that is quick ------------------------------------------------


@dw.task(timeout=1.0, retries=1)
def slow_first_time(counter: str) -> str:
    if bump(counter) == 1:
        time.sleep(60)
    return "quick the second time"


@dw.pipeline
def times_out_once(counter: str = "") -> str:
    return slow_first_time(counter)


# -- a worker killed in the middle of a task ----------------------------------------------


@dw.task(retries=1)
def sleeps_until_killed(counter: str, pid_file: str) -> str:
    """Attempt 1 tells its worker's pid and sleeps until the test kills that worker."""
    if bump(counter) == 1:
        Path(pid_file + ".tmp").write_text(str(os.getpid()))
        os.replace(pid_file + ".tmp", pid_file)
        time.sleep(60)
        return "not killed"
    return f"survived in {os.getpid()}"


@dw.pipeline
def killed_worker(counter: str = "", pid_file: str = "") -> str:
    return sleeps_until_killed(counter, pid_file)


# -- resources ----------------------------------------------------------------------------


@dw.task(resources={"GPU": 1})
def on_a_gpu_worker() -> dict[str, float]:
    """The resources of the Dask worker that ran it."""
    import distributed

    return dict(distributed.get_worker().state.total_resources)


@dw.pipeline
def needs_gpu() -> dict[str, float]:
    return on_a_gpu_worker()


# -- plain fan-out ------------------------------------------------------------------------


@dw.task
def square(x: int) -> int:
    return x * x


@dw.task
def total(values: list[int]) -> int:
    return sum(values)


@dw.pipeline
def squares(n: int = 6) -> int:
    return total([square(i) for i in range(n)])
