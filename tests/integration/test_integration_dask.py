"""The Dask executor running real pipelines on real LocalClusters (worker processes, no mocks).

Most tests join one LocalCluster of the module by address (two workers with a ``GPU``
resource each, set up as dagwell advises: ``allowed-failures`` 0); a few let dagwell start
and close its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import dagwell as dw
from dask_cluster import local_cluster

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

import pipelines_for_dask as p  # noqa: E402  (after the skip: its GPU task needs Dask)

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 one-thread worker processes, each declaring ``GPU=1``."""
    with local_cluster(resources={"GPU": 1}) as cluster:
        yield cluster


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    """The test's own view of the cluster."""
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def on_cluster(settings: dw.Settings, cluster: Any) -> dw.Settings:
    """The test's settings, pointing dagwell at the module's cluster."""
    return replace(settings, dask_address=cluster.scheduler_address)


def wait_for_file(path: Path, seconds: float = 60) -> str:
    give_up_at = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < give_up_at, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


class LargestInMemory(distributed.diagnostics.plugin.SchedulerPlugin):
    """Records the size of the largest value the Dask scheduler saw a worker hold."""

    name = "largest-in-memory"

    def __init__(self) -> None:
        self.largest = 0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        task = self.scheduler.tasks.get(key)
        if finish == "memory" and task is not None:
            self.largest = max(self.largest, task.nbytes)


def largest_in_memory(client: Any) -> int:
    def read(dask_scheduler: Any) -> int:
        return int(dask_scheduler.plugins[LargestInMemory.name].largest)

    return int(client.run_on_scheduler(read))


def test_outputs_pass_through_the_artifact_store_never_through_dask(
    on_cluster: dw.Settings, client: Any
) -> None:
    """A 50 MB array goes from task to task; the largest value Dask held is tiny."""
    client.register_plugin(LargestInMemory())
    try:
        run = dw.run(p.big_data, executor="dask", settings=on_cluster)
        during_the_run = largest_in_memory(client)
        # The plugin does see big values: one megabyte held by Dask itself.
        held = client.submit(bytes, 1_000_000, pure=False)
        held.result()
        control = largest_in_memory(client)
    finally:
        client.unregister_scheduler_plugin(LargestInMemory.name)

    assert run.status == "succeeded"
    assert run.result() == p.BIG
    assert run.tasks["make_big"].outputs["return"].size >= p.BIG * 8
    assert 0 < during_the_run < 100_000
    assert control >= 1_000_000


def test_failed_attempts_are_retried_with_backoff(on_cluster: dw.Settings, tmp_path: Path) -> None:
    run = dw.run(
        p.flaky, {"counter": str(tmp_path / "calls")}, executor="dask", settings=on_cluster
    )

    assert run.status == "succeeded"
    assert run.result() == "third time lucky"
    attempts = run.tasks["fails_twice"].attempts
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert "RuntimeError: not yet" in (attempts[0].error or "")
    starts = [a.started_at for a in attempts]
    assert all(s is not None for s in starts)
    delay, backoff = p.fails_twice.retry_delay, p.fails_twice.retry_backoff
    assert (starts[1] - starts[0]).total_seconds() >= delay
    assert (starts[2] - starts[1]).total_seconds() >= delay * backoff


def test_a_timeout_fails_the_attempt_and_the_retry_succeeds(
    on_cluster: dw.Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = dw.run(
        p.times_out_once, {"counter": str(tmp_path / "calls")}, executor="dask", settings=on_cluster
    )

    assert run.status == "succeeded"
    assert run.result() == "quick the second time"
    first, second = run.tasks["slow_first_time"].attempts
    assert first.status == "failed"
    assert "TaskTimeoutError" in (first.error or "")
    assert "exceeded its timeout of 1.0 s" in (first.error or "")
    assert second.status == "succeeded"
    assert time.monotonic() - started < 45  # not the 60 s the first attempt would sleep


def test_a_worker_killed_mid_task_fails_the_attempt_and_the_retry_succeeds(
    on_cluster: dw.Settings, client: Any, tmp_path: Path
) -> None:
    """Kill the worker Dask says runs the task: attempt 1 fails, attempt 2 runs elsewhere."""
    pid_file = tmp_path / "pid"
    params = {"counter": str(tmp_path / "calls"), "pid_file": str(pid_file)}
    runs: list[dw.Run] = []
    thread = threading.Thread(
        target=lambda: runs.append(
            dw.run(p.killed_worker, params, executor="dask", settings=on_cluster)
        )
    )
    thread.start()
    try:
        task_pid = int(wait_for_file(pid_file))
        processing = client.processing()
        [worker] = [
            address
            for address, keys in processing.items()
            if any("sleeps_until_killed" in str(key) for key in keys)
        ]
        worker_pid = client.run(os.getpid, workers=[worker])[worker]
        assert worker_pid == task_pid
        os.kill(worker_pid, signal.SIGKILL)
    finally:
        thread.join(90)
    assert not thread.is_alive()

    [run] = runs
    assert run.status == "succeeded"
    assert run.result().startswith("survived in ")
    first, second = run.tasks["sleeps_until_killed"].attempts
    assert first.status == "failed"
    assert "WorkerDiedError" in (first.error or "")
    assert worker in (first.error or "")
    assert second.status == "succeeded"


def test_on_its_own_cluster_dagwell_retries_a_killed_worker_and_dask_does_not(
    settings: dw.Settings, tmp_path: Path
) -> None:
    """Dagwell's LocalCluster fails an attempt at the first worker death (allowed-failures 0).

    With Dask's default, the scheduler would run attempt 1 again itself, unrecorded: the
    counter would then reach 3.
    """
    pid_file = tmp_path / "pid"
    counter = tmp_path / "calls"
    params = {"counter": str(counter), "pid_file": str(pid_file)}
    runs: list[dw.Run] = []
    thread = threading.Thread(
        target=lambda: runs.append(
            dw.run(p.killed_worker, params, executor="dask", workers=2, settings=settings)
        )
    )
    thread.start()
    try:
        os.kill(int(wait_for_file(pid_file)), signal.SIGKILL)
    finally:
        thread.join(90)

    [run] = runs
    assert run.status == "succeeded"
    first, second = run.tasks["sleeps_until_killed"].attempts
    assert "WorkerDiedError" in (first.error or "")
    assert second.status == "succeeded"
    assert counter.read_text() == "2"


def test_a_task_with_resources_runs_on_a_worker_that_has_them(on_cluster: dw.Settings) -> None:
    run = dw.run(p.needs_gpu, executor="dask", settings=on_cluster)

    assert run.status == "succeeded"
    assert run.result() == {"GPU": 1}


CLI_PIPELINE = """
import dagwell as dw


@dw.task
def square(x: int) -> int:
    return x * x


@dw.task
def total(values: list) -> int:
    return sum(values)


@dw.pipeline
def squares(n: int = 4) -> int:
    return total([square(i) for i in range(n)])
"""


def test_the_cli_runs_a_pipeline_file_on_a_cluster_by_address(
    run_cli: RunCli, cluster: Any, tmp_path: Path
) -> None:
    """The file is in a folder the workers never heard of: they get it from the caller."""
    (tmp_path / "dask_cli_squares.py").write_text(CLI_PIPELINE)
    address = cluster.scheduler_address

    done = run_cli(
        "run", "dask_cli_squares.py", "-p", "n=5", "--executor", "dask", "--dask-address", address
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout
    assert "result: 30" in done.stdout
