"""W5: dagwell's Dask executor against plain ``Client.submit`` on the same LocalCluster.

    .venv/bin/python bench/dask_overhead.py --repeat 5 --warmup 1   # prints one JSON object

``bench/run.py`` runs this script for W5. It starts one LocalCluster (2 worker processes of
one thread each, set up as the Dask executor sets up its own) and, round after round,
alternating the sides, times on that cluster:

- ``dagwell_w1``: ``dw.run`` of W1 (500 no-op tasks and a sum) joining the cluster by
  address, with every run recorded in SQLite and every output in the artifact store (a
  fresh ``DAGWELL_HOME`` each time, as for the other workloads);
- ``dagwell_w0``: the same for W0 (one no-op); its time is the fixed cost of a run;
- ``raw``: 500 ``client.submit(noop, i, pure=False)`` calls, then one ``client.gather``;
- ``raw_windowed``: the same 500 calls with at most 4 in flight, as many as dagwell's
  runner keeps in flight on 2 workers.

``(dagwell_w1 - dagwell_w0) / 500`` is dagwell's cost per task, ``raw / 500`` Dask's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dask
import distributed

import dagwell as dw
from dagwell.execution.loader import load_pipeline

BENCH = Path(__file__).resolve().parent
TASKS = 500  # the no-ops of W1
WORKERS = 2
IN_FLIGHT = 2 * WORKERS  # what dagwell's runner keeps submitted per worker


def noop(i: int) -> int:
    """Returns its argument (W1's task, as a plain function)."""
    return i


def raw(client: distributed.Client) -> float:
    """Seconds for TASKS plain submissions, all at once, and one gather."""
    start = time.perf_counter()
    futures = [client.submit(noop, i, pure=False) for i in range(TASKS)]
    client.gather(futures)
    return time.perf_counter() - start


def raw_windowed(client: distributed.Client) -> float:
    """Seconds for TASKS plain submissions, never more than IN_FLIGHT at a time."""
    start = time.perf_counter()
    pending: set[distributed.Future] = set()
    submitted = 0
    while submitted < TASKS or pending:
        while submitted < TASKS and len(pending) < IN_FLIGHT:
            pending.add(client.submit(noop, submitted, pure=False))
            submitted += 1
        done, pending = distributed.wait(pending, return_when="FIRST_COMPLETED")
        client.gather(list(done))
    return time.perf_counter() - start


def through_dagwell(pipeline: dw.Pipeline, address: str, scratch: Path) -> Callable[[], float]:
    """A function timing one ``dw.run`` of ``pipeline`` on the cluster, in a fresh home."""

    def timed() -> float:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
        settings = replace(dw.Settings.from_env({}, home=home), dask_address=address)
        try:
            start = time.perf_counter()
            run = dw.run(pipeline, executor="dask", settings=settings)
            seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(home, ignore_errors=True)
        if run.status != "succeeded":
            raise SystemExit(f"{pipeline.name} failed on Dask: {run.error}")
        return seconds

    return timed


def main() -> None:
    """Time every side, round-robin, and print the seconds as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    w0 = load_pipeline(str(BENCH / "workloads" / "w0_noop.py"))
    w1 = load_pipeline(str(BENCH / "workloads" / "w1_wide.py"))
    scratch = Path(tempfile.mkdtemp(prefix="dagwell-bench-dask-"))
    config = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    try:
        with dask.config.set(config):
            cluster = distributed.LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.WARNING,
            )
        with cluster, distributed.Client(cluster) as client:  # the default, for wait()
            address = cluster.scheduler_address
            sides: dict[str, Callable[[], float]] = {
                "dagwell_w1": through_dagwell(w1, address, scratch),
                "raw": lambda: raw(client),
                "dagwell_w0": through_dagwell(w0, address, scratch),
                "raw_windowed": lambda: raw_windowed(client),
            }
            seconds: dict[str, list[float]] = {name: [] for name in sides}
            for round_ in range(args.warmup + args.repeat):
                for name, side in sides.items():
                    took = side()
                    if round_ >= args.warmup:
                        seconds[name].append(took)
                    print(f"{name:<13} {took:7.3f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    versions = {"dask": dask.__version__, "distributed": distributed.__version__}
    json.dump({"tasks": TASKS, "workers": WORKERS, "seconds": seconds, **versions}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
