"""Cancelling a run from another process: ``dw.cancel`` and ``dagwell cancel``.

A run started by ``dagwell run`` in a subprocess is cancelled from the test: its runner sees
the request with its next heartbeat and stops the run as Ctrl-C would (the long task's worker
process killed, later nodes never started, exit code 130). A queued run is cancelled at once
and a scheduler never starts it; a run whose runner is gone is settled on the spot; a
finished run is refused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pipelines_for_cancel as p
import pytest

import dagwell as dw
from dagwell.core.records import AttemptStart
from dagwell.core.states import RunState
from dagwell.errors import RunStateError
from dagwell.scheduling.daemon import Scheduler, utc_now
from dagwell.storage.metadata import queue
from dagwell.storage.metadata.store import NewTaskRun
from dagwell.storage.shared import metadata_store
from dagwell_process import dagwell_env, start_dagwell

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
PIPELINE = f"{Path(p.__file__)}:long_wait"


@pytest.fixture
def start_cli(settings: dw.Settings) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``dagwell ARGS`` in the background, recording into ``settings.home``; a process
    still running after the test is interrupted (its run cancelled, its workers gone)."""
    started: list[subprocess.Popen[str]] = []

    def start(folder: Path, *args: str) -> subprocess.Popen[str]:
        process = start_dagwell(folder, dagwell_env({"DAGWELL_HOME": str(settings.home)}), *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def wait_for_file(path: Path, seconds: float = 60) -> str:
    give_up_at = time.monotonic() + seconds
    while not path.exists() or not path.read_text():
        assert time.monotonic() < give_up_at, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie that nobody reaped yet counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2].startswith("Z")
    except OSError:
        return True


def wait_until_gone(pid: int, seconds: float = 10) -> None:
    give_up_at = time.monotonic() + seconds
    while not gone(pid):
        assert time.monotonic() < give_up_at, f"process {pid} is still alive"
        time.sleep(0.05)


def statuses(run: dw.Run) -> dict[str, str]:
    return {node: task.status.value for node, task in run.tasks.items()}


def running(settings: dw.Settings, node: str, seconds: float = 30) -> dw.Run:
    """The newest run, once ``node`` of it is recorded running."""
    give_up_at = time.monotonic() + seconds
    while True:
        found = dw.list_runs(limit=1, settings=settings)
        if found and node in found[0].tasks and found[0].tasks[node].status == "running":
            return found[0]
        assert time.monotonic() < give_up_at, f"{node} never ran"
        time.sleep(0.05)


def start_long_run(
    tmp_path: Path, start_cli: Callable[..., subprocess.Popen[str]], settings: dw.Settings
) -> tuple[subprocess.Popen[str], str, int]:
    """``dagwell run`` of ``long_wait`` with the process executor, up to its long task:
    the runner process, the run's id and the pid of the worker running the long task."""
    pid_file = tmp_path / "worker.pid"
    runner = start_cli(
        tmp_path, "run", PIPELINE, "-p", f"pid_file={pid_file}", "-q", "--workers", "2"
    )
    worker = int(wait_for_file(pid_file))
    return runner, running(settings, "wait_long").id, worker


def assert_cancelled_by(run: dw.Run, who: str) -> None:
    assert run.status == "cancelled"
    assert run.error == f"cancelled by {who}"
    assert run.cancel_requested_by == who
    assert statuses(run) == {"first": "succeeded", "wait_long": "cancelled", "after": "cancelled"}
    [attempt] = run.tasks["wait_long"].attempts
    assert (attempt.status, attempt.error) == ("cancelled", f"cancelled by {who}")
    assert run.tasks["after"].attempts == ()  # never started


# -- a running run -------------------------------------------------------------------------


def test_dw_cancel_stops_a_running_run_and_kills_its_worker(
    tmp_path: Path, settings: dw.Settings, start_cli: Callable[..., subprocess.Popen[str]]
) -> None:
    runner, run_id, worker = start_long_run(tmp_path, start_cli, settings)

    asked_at = time.monotonic()
    asked = dw.cancel(run_id[:6], by="alice", settings=settings)

    assert (asked.id, asked.status, asked.cancel_requested_by) == (run_id, "running", "alice")
    _, stderr = runner.communicate(timeout=30)
    took = time.monotonic() - asked_at
    assert runner.returncode == 130, stderr
    assert took < 8, f"the run took {took:.1f} s to stop"
    wait_until_gone(worker)
    assert_cancelled_by(dw.get_run(run_id, settings=settings), "alice")


def test_dagwell_cancel_wait_returns_once_the_run_has_stopped(
    tmp_path: Path,
    settings: dw.Settings,
    start_cli: Callable[..., subprocess.Popen[str]],
    run_cli: RunCli,
) -> None:
    runner, run_id, worker = start_long_run(tmp_path, start_cli, settings)

    done = run_cli("cancel", run_id, "--by", "bob", "--wait", "--timeout", "30")

    assert done.returncode == 0, done.stderr
    assert f"run {run_id} (long_wait) is being cancelled by its runner" in done.stdout
    assert f"run {run_id} cancelled by bob" in done.stdout
    assert runner.wait(timeout=30) == 130
    wait_until_gone(worker)
    assert_cancelled_by(dw.get_run(run_id, settings=settings), "bob")
    shown = run_cli("show", run_id)
    assert "cancel requested by bob" in shown.stdout


def test_an_inline_run_is_cancelled_when_its_running_task_returns(
    settings: dw.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagwell.execution import runner

    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)

    run = dw.run(
        p.cancels_itself, {"home": str(settings.home)}, executor="inline", settings=settings
    )

    assert run.status == "cancelled" and run.error == "cancelled by alice"
    # The task that was running ran to its end and kept its outputs; the next never started.
    assert statuses(run) == {"ask_to_cancel": "succeeded", "echo": "cancelled"}
    assert run.output("ask_to_cancel") == "returned"


def test_dask_cancels_the_running_future_and_its_local_cluster_stops(
    tmp_path: Path, settings: dw.Settings
) -> None:
    pytest.importorskip("distributed")
    pid_file = tmp_path / "worker.pid"
    runs: list[dw.Run] = []
    thread = threading.Thread(
        target=lambda: runs.append(
            dw.run(
                p.long_wait,
                {"pid_file": str(pid_file)},
                executor="dask",
                workers=1,
                settings=settings,
            )
        )
    )
    thread.start()
    try:
        worker = int(wait_for_file(pid_file, seconds=90))
        dw.cancel(running(settings, "wait_long").id, by="carol", settings=settings)
    finally:
        thread.join(60)

    [run] = runs
    assert_cancelled_by(run, "carol")
    wait_until_gone(worker, seconds=30)


# -- queued, claimed, orphaned and finished runs -------------------------------------------

QUICK = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def hello() -> str:
        return "hello"


    @dw.pipeline
    def quick() -> str:
        return hello()
    """
)


def test_a_queued_run_is_cancelled_at_once_and_a_scheduler_never_starts_it(
    tmp_path: Path, settings: dw.Settings
) -> None:
    file = tmp_path / "quick.py"
    file.write_text(QUICK)
    doomed = dw.trigger(str(file), settings=settings)
    kept = dw.trigger(str(file), settings=settings)

    cancelled = dw.cancel(doomed.id, by="alice", settings=settings)

    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled by alice")
    assert cancelled.ended_at is not None and cancelled.cancel_requested_by == "alice"
    scheduler = Scheduler([str(file)], settings=settings, executor="inline", rescan_seconds=0)
    scheduler.start()
    try:
        scheduler.tick(utc_now())
        assert list(scheduler.children) == [kept.id]
        for child in scheduler.children.values():
            child.process.wait(timeout=60)
        scheduler.tick(utc_now())
    finally:
        scheduler.shutdown(cancel=True, wait=30)
    assert dw.get_run(kept.id, settings=settings).status == "succeeded"
    after = dw.get_run(doomed.id, settings=settings)
    assert (after.status, after.started_at, after.tasks) == ("cancelled", None, {})


def test_a_run_cancelled_between_its_claim_and_its_start_never_starts(
    tmp_path: Path, settings: dw.Settings
) -> None:
    from dagwell.scheduling.launch import execute_claimed

    file = tmp_path / "quick.py"
    file.write_text(QUICK)
    queued = dw.trigger(str(file), settings=settings)
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:  # what a daemon (this process) does before launching
        daemon = f"{socket.gethostname()}:{os.getpid()}"
        assert queue.claim(tx, queued.id, runner=daemon, at=utc_now())

    asked = dw.cancel(queued.id, by="alice", settings=settings)
    state = execute_claimed(queued.id, executor="inline", workers=None, settings=settings)

    assert asked.status == "running" and state is RunState.CANCELLED
    run = dw.get_run(queued.id, settings=settings)
    assert (run.status, run.error, run.tasks) == (
        "cancelled",
        "cancelled by alice before it started",
        {},
    )


def test_a_scheduler_stop_while_a_run_is_being_started_records_it_cancelled(
    tmp_path: Path, settings: dw.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's SIGTERM can reach the run's process before its runner is there to
    record it: the run must end cancelled, not stay running for recovery to resume."""
    from dagwell.scheduling import launch

    file = tmp_path / "quick.py"
    file.write_text(QUICK)
    queued = dw.trigger(str(file), settings=settings)
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:  # what a daemon (this process) does before launching
        assert queue.claim(tx, queued.id, runner="daemon:1", at=utc_now())

    def stopped_meanwhile(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # what launch's SIGTERM handler raises

    monkeypatch.setattr(launch, "execute_pipeline", stopped_meanwhile)
    monkeypatch.setenv("DAGWELL_HOME", str(settings.home))
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = launch.main([queued.id, "--executor", "inline"])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)

    run = dw.get_run(queued.id, settings=settings)
    assert code == 130
    assert (run.status, run.error) == ("cancelled", "cancelled by stopping the scheduler")


def test_a_run_whose_runner_is_gone_is_recorded_cancelled_at_once(
    settings: dw.Settings,
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id="orphan-0001",
            pipeline="long_wait",
            params={},
            started_at=utc_now(),
            executor="process",
            task_runs=[NewTaskRun("first", "first"), NewTaskRun("after", "after", ("first",))],
            runner=f"{socket.gethostname()}:{dead.pid}",
        )
        store.record_attempts(tx, "orphan-0001", starts=[AttemptStart("first", 1, utc_now())])

    run = dw.cancel("orphan-0001", by="alice", settings=settings)

    error = f"cancelled by alice (its runner, {socket.gethostname()}:{dead.pid}, was gone)"
    assert (run.status, run.error, run.cancel_requested_by) == ("cancelled", error, "alice")
    assert statuses(run) == {"first": "cancelled", "after": "cancelled"}
    assert run.tasks["first"].attempts[0].status == "cancelled"


def test_cancelling_a_finished_or_unknown_run_is_refused(
    settings: dw.Settings, run_cli: RunCli
) -> None:
    done = dw.run(p.quick, executor="inline", settings=settings)

    with pytest.raises(RunStateError, match=r"already finished \(succeeded\)"):
        dw.cancel(done.id, settings=settings)
    with pytest.raises(dw.NotFoundError, match="no run with id 'nope1234'"):
        dw.cancel("nope1234", settings=settings)
    refused = run_cli("cancel", done.id)
    assert refused.returncode == 2
    assert f"run {done.id} already finished (succeeded)" in refused.stderr
    assert dw.get_run(done.id, settings=settings).cancel_requested_by is None
    assert run_cli("cancel", "nope1234").returncode == 3
