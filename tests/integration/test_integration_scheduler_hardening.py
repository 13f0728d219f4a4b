"""The scheduler daemon when things go wrong: odd files, a failing round, lost processes.

Real SQLite, real subprocesses; the clock is passed in where time matters.
"""

from __future__ import annotations

import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import dagwell as dw
from dagwell.core.records import Run
from dagwell.core.states import RunState
from dagwell.errors import DefinitionError
from dagwell.execution.runs import runner_alive
from dagwell.scheduling import daemon
from dagwell.scheduling.daemon import Scheduler
from dagwell.scheduling.discovery import discover

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

GOOD = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def one() -> int:
        return 1


    @dw.pipeline(schedule=dw.every(seconds=30), start={start!r})
    def {name}():
        return one()
    """
)


def good(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    start = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    path.write_text("import datetime\n" + GOOD.format(name=name, start=start))
    return path


def test_files_that_end_python_with_exit_code_0_are_reported_not_waited_for(
    tmp_path: Path,
) -> None:
    body_exits = tmp_path / "body_exits.py"
    body_exits.write_text(
        "import sys\nimport dagwell as dw\n\n\n@dw.pipeline(schedule='@daily')\n"
        "def quits():\n    sys.exit(0)\n"
    )
    os_exits = tmp_path / "os_exits.py"
    os_exits.write_text("import os\n\nos._exit(0)\n")
    fine = good(tmp_path, "fine")

    found = discover([str(body_exits), str(os_exits), str(fine)], timeout=60)

    assert sorted(found.pipelines) == ["fine"]
    assert "SystemExit" in found.errors[str(body_exits)]
    assert "ended the Python process (exit code 0)" in found.errors[str(os_exits)]


def test_a_missing_path_is_refused_at_start(settings: dw.Settings, tmp_path: Path) -> None:
    scheduler = Scheduler([str(tmp_path / "nosuch")], settings=settings)

    with pytest.raises(DefinitionError, match="no such pipeline file or folder"):
        scheduler.start()


def test_a_failing_round_is_reported_and_the_daemon_goes_on(
    settings: dw.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good(tmp_path / "flows", "steady")
    scheduler = Scheduler([str(tmp_path / "flows")], settings=settings, clock=lambda: NOW)
    scheduler.start()
    rounds: list[int] = []
    real_tick = scheduler.tick

    def flaky_tick(now: datetime) -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise OperationalError("BEGIN", {}, Exception("database is locked"))
        real_tick(now)

    monkeypatch.setattr(scheduler, "tick", flaky_tick)
    monkeypatch.setattr(daemon, "TICK_SECONDS", 0.01)
    stop = threading.Event()
    serving = threading.Thread(target=scheduler.serve, args=(stop,))
    serving.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while len(rounds) < 2 and datetime.now(UTC) < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        serving.join(30)
        scheduler.shutdown(wait=30)

    assert len(rounds) >= 2
    assert any("this round failed" in e.text and "locked" in e.text for e in scheduler.events)
    assert dw.list_runs(pipeline="steady", settings=settings)  # the next round queued


def test_a_daemon_schedules_only_the_pipelines_under_its_paths(
    settings: dw.Settings, tmp_path: Path
) -> None:
    good(tmp_path / "a", "ping")
    good(tmp_path / "b", "pong")
    first = Scheduler([str(tmp_path / "a")], settings=settings, clock=lambda: NOW)
    first.start()
    first.shutdown()
    second = Scheduler([str(tmp_path / "b")], settings=settings, clock=lambda: NOW)
    second.start()

    queued = second.queue_due(NOW)
    second.shutdown()

    pipelines = {dw.get_run(i, settings=settings).pipeline for i in queued}
    assert pipelines == {"pong"}


def test_catching_up_an_old_frequent_cron_queues_the_newest_time_at_once(
    settings: dw.Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "minutely.py").write_text(
        "import datetime\nimport dagwell as dw\n\n\n@dw.task\ndef one() -> int:\n    return 1\n\n\n"
        "@dw.pipeline(schedule='* * * * *', start=datetime.datetime(2025, 6, 1))\n"
        "def minutely():\n    return one()\n"
    )
    scheduler = Scheduler([str(folder)], settings=settings, clock=lambda: NOW)
    scheduler.start()

    queued = scheduler.queue_due(NOW)
    scheduler.shutdown()

    [run] = [dw.get_run(i, settings=settings) for i in queued]
    assert run.scheduled_for == NOW


def make_run(runner: str, heartbeat: datetime | None) -> Run:
    return Run(
        id="r1",
        pipeline="p",
        status=RunState.RUNNING,
        params={},
        started_at=heartbeat,
        ended_at=None,
        tasks={},
        runner=runner,
        heartbeat_at=heartbeat,
    )


def test_a_live_pid_with_a_stale_heartbeat_is_not_taken_for_a_live_runner() -> None:
    import os
    import socket

    me = f"{socket.gethostname()}:{os.getpid()}"
    fresh = datetime.now(UTC)
    stale = fresh - timedelta(minutes=5)

    assert runner_alive(make_run(me, fresh))
    assert not runner_alive(make_run(me, stale))  # the pid may belong to another process
    assert not runner_alive(make_run(f"{socket.gethostname()}:999999999", fresh))


def test_a_triggered_file_the_daemon_does_not_read_keeps_its_max_active_runs(
    settings: dw.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text(
        "import dagwell as dw\n\n\n@dw.task\ndef one() -> int:\n    return 1\n\n\n"
        "@dw.pipeline(max_active_runs=1)\ndef single():\n    return one()\n"
    )
    first = dw.trigger(f"{elsewhere}:single", settings=settings)
    second = dw.trigger("single", settings=settings)  # now known by name too
    good(tmp_path / "flows", "steady")
    scheduler = Scheduler([str(tmp_path / "flows")], settings=settings, clock=lambda: NOW)
    scheduler.start()
    started: list[str] = []
    monkeypatch.setattr(scheduler, "_spawn", lambda run_id, pipeline, now: started.append(run_id))

    scheduler.launch(NOW)
    scheduler.shutdown()

    assert started == [first.id]  # the second waits: max_active_runs=1, not the default 16
    assert dw.get_run(second.id, settings=settings).status == "queued"
    assert [p.name for p in dw.registered_pipelines(settings=settings)] == ["steady"]
