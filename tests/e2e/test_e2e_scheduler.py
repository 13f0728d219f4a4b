"""``dagwell scheduler`` as a user runs it: a background process over a folder of pipelines.

The daemon runs in its own session (so a test can kill it and every run it started at
once), records into a DAGWELL_HOME in tmp_path, and prints one line per event (``--plain``)
into a file the test reads. Tests poll the records with a deadline instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dagwell as dw

pytestmark = pytest.mark.e2e

GOOD = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def logical_time() -> str:
        return dw.current().scheduled_for.isoformat()


    @dw.task
    def double(x: int) -> int:
        return 2 * x


    @dw.pipeline(schedule=dw.every(seconds=1))
    def ticking() -> str:
        return logical_time()


    @dw.pipeline
    def on_demand(x: int = 1) -> int:
        return double(x)


    @dw.pipeline(schedule="@daily", max_active_runs=2)
    def daily() -> str:
        return logical_time()
    """
)

BROKEN = {
    "syntax_error.py": "import dagwell as dw\n\n\n@dw.pipeline\ndef broken(:\n    pass\n",
    "import_error.py": "import dagwell as dw\nimport no_such_module_for_dagwell_tests\n",
    "exits.py": "import sys\n\nsys.exit(1)\n",
    "cycle.py": textwrap.dedent(
        """
        import dagwell as dw


        @dw.task
        def first() -> int:
            return 1


        @dw.task
        def second(x: int) -> int:
            return x


        @dw.pipeline
        def cyclic() -> None:
            one = first()
            two = second(one)
            two >> one
        """
    ),
}

KILLABLE = textwrap.dedent(
    """
    import os
    import time

    import dagwell as dw

    FOLDER = {folder!r}


    def note(name: str) -> None:
        with open(os.path.join(FOLDER, "finished.txt"), "a") as out:
            out.write(name + "\\n")


    @dw.task
    def a() -> list[int]:
        note("a")
        return list(range(50_000))  # big enough to be written to the artifact store


    @dw.task(retries=1)
    def slow(numbers: list[int]) -> int:
        time.sleep(3)
        note("slow")
        return len(numbers)


    @dw.task
    def c(count: int) -> int:
        note("c")
        return count + 1


    @dw.pipeline
    def killable() -> int:
        return c(slow(a()))
    """
)

Start = Callable[..., "Daemon"]


class Daemon:
    """A ``dagwell scheduler`` process in its own session, its output going to a file."""

    def __init__(self, process: subprocess.Popen[bytes], output: Path) -> None:
        self.process = process
        self.output = output

    def text(self) -> str:
        return self.output.read_text()

    def kill_group(self) -> None:
        """SIGKILL the daemon and every process it started (they share its group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def cli_env(settings: dw.Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env["DAGWELL_HOME"] = str(settings.home)
    return env


@pytest.fixture
def start_daemon(tmp_path: Path, settings: dw.Settings) -> Iterator[Start]:
    """Start ``dagwell scheduler ARGS --plain``; kill whatever is left of it after the test."""
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        output = tmp_path / f"daemon-{len(started)}.txt"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "dagwell.interfaces.cli.main", "scheduler", *args],
                cwd=tmp_path,
                env=cli_env(settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        daemon = Daemon(process, output)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.kill_group()


def wait_for(check: Callable[[], Any], what: str, daemon: Daemon, timeout: float = 30) -> Any:
    """Poll ``check`` until it returns something truthy, failing with the daemon's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if daemon.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; daemon said:\n{daemon.text()}")


def runs_of(settings: dw.Settings, pipeline: str) -> list[dw.Run]:
    return dw.list_runs(pipeline=pipeline, limit=None, settings=settings)


def succeeded(settings: dw.Settings, pipeline: str) -> list[dw.Run]:
    return [r for r in runs_of(settings, pipeline) if r.status == "succeeded"]


def test_the_daemon_runs_schedules_triggers_and_backfills_and_reports_broken_files(
    tmp_path: Path, settings: dw.Settings, start_daemon: Start, run_cli: Any
) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD)
    for name, text in BROKEN.items():
        (folder / name).write_text(text)

    daemon = start_daemon(str(folder), "--plain", "--workers", "1")

    wait_for(lambda: len(succeeded(settings, "ticking")) >= 2, "2 scheduled runs", daemon)
    for tick in succeeded(settings, "ticking"):
        assert tick.trigger == "schedule"
        assert tick.scheduled_for is not None
        assert tick.result() == tick.scheduled_for.isoformat()
    said = daemon.text()
    unwrapped = "".join(said.split())  # the one-line-per-event check is a test of its own
    for name in BROKEN:
        assert f"cannotload{folder / name}" in unwrapped, said
    assert "no_such_module_for_dagwell_tests" in said
    assert "registered pipeline ticking" in said

    triggered = run_cli("trigger", "on_demand", "-p", "x=21", "--json")
    assert triggered.returncode == 0, triggered.stderr
    queued = json.loads(triggered.stdout)
    assert queued["trigger"] == "manual"  # its status: queued, unless the daemon was quick
    backfilled = run_cli("backfill", "daily", "--start", "2026-01-01", "--end", "2026-01-02")
    assert backfilled.returncode == 0, backfilled.stderr
    assert "2 run(s) queued" in backfilled.stdout

    def triggered_done() -> bool:
        return dw.get_run(queued["id"], settings=settings).status.is_finished

    def backfill_done() -> list[dw.Run]:
        runs = [r for r in runs_of(settings, "daily") if r.trigger == "backfill"]
        return runs if len(runs) == 2 and all(r.status.is_finished for r in runs) else []

    wait_for(triggered_done, "the triggered run", daemon)
    on_demand = dw.get_run(queued["id"], settings=settings)
    assert on_demand.status == "succeeded", f"{on_demand.error}\n{daemon.text()}"
    assert on_demand.result() == 42
    backfills = wait_for(backfill_done, "the backfill runs", daemon)
    assert sorted(r.result()[:10] for r in backfills) == ["2026-01-01", "2026-01-02"]
    assert {r.status.value for r in backfills} == {"succeeded"}, daemon.text()

    shown = run_cli("show", succeeded(settings, "ticking")[0].id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["trigger"] == "schedule" and data["scheduled_for"] is not None

    began = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "dagwell.interfaces.cli.main", "scheduler", str(folder)],
        cwd=tmp_path,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
    )
    took = time.monotonic() - began
    assert second.returncode != 0, second.stdout + second.stderr
    assert "another scheduler" in second.stderr and "is running" in second.stderr, second.stderr
    assert took < 10

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0, daemon.text()
    assert "scheduler stopped" in daemon.text()
    running = [r.id for r in dw.list_runs(limit=None, settings=settings) if r.status == "running"]
    assert running == [], daemon.text()


def test_plain_output_prints_each_event_on_one_line(
    tmp_path: Path, settings: dw.Settings, start_daemon: Start
) -> None:
    """So that a log of the daemon can be grepped for a file's problems."""
    folder = tmp_path / "a_folder_with_a_rather_long_name_as_real_deployments_have"
    folder.mkdir()
    (folder / "syntax_error.py").write_text(BROKEN["syntax_error.py"])
    (folder / "good.py").write_text(GOOD.replace("every(seconds=1)", "every(hours=1)"))
    daemon = start_daemon(str(folder), "--plain")

    def reported() -> bool:
        return "syntaxerroronline" in "".join(daemon.text().split())

    wait_for(reported, "the load error", daemon)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0, daemon.text()

    said = daemon.text()
    [line] = [line for line in said.splitlines() if "cannot load" in line]
    assert str(folder / "syntax_error.py") in line, said
    assert "syntax error on line 5" in line, said


def dead_outputs_of_a(settings: dw.Settings, run_id: str) -> Any:
    outputs = dw.get_run(run_id, settings=settings).tasks["a"].outputs
    assert outputs and not any(v.is_inline for v in outputs.values())
    return outputs


def test_a_daemon_killed_mid_run_resumes_the_run_when_restarted(
    tmp_path: Path, settings: dw.Settings, start_daemon: Start, run_cli: Any
) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    file = folder / "killable.py"
    file.write_text(KILLABLE.format(folder=str(tmp_path)))
    daemon = start_daemon(str(folder), "--plain", "--workers", "1")
    triggered = run_cli("trigger", f"{file}:killable", "--json")
    assert triggered.returncode == 0, triggered.stderr
    run_id = json.loads(triggered.stdout)["id"]

    def slow_running() -> bool:
        tasks = dw.get_run(run_id, settings=settings).tasks
        return "slow" in tasks and tasks["slow"].status == "running"

    wait_for(slow_running, "slow to start", daemon)
    daemon.kill_group()
    assert dw.get_run(run_id, settings=settings).status == "running"  # as the kill left it

    restarted = start_daemon(str(folder), "--plain", "--workers", "1")

    def resumed() -> dw.Run | None:
        runs = [r for r in runs_of(settings, "killable") if r.parent_run_id == run_id]
        return runs[0] if runs and runs[0].status.is_finished else None

    resume = wait_for(resumed, "the resume run to end", restarted)
    assert resume.trigger == "resume"
    assert resume.status == "succeeded", resume.error
    assert {n: t.status.value for n, t in resume.tasks.items()} == {
        "a": "reused",
        "slow": "succeeded",
        "c": "succeeded",
    }
    assert resume.result() == 50_001
    assert resume.tasks["a"].outputs == dead_outputs_of_a(settings, run_id)
    dead = dw.get_run(run_id, settings=settings)
    assert dead.status == "failed" and resume.id in (dead.error or "")
    assert [a.status.value for a in dead.tasks["slow"].attempts] == ["failed"]
    assert "lost" in (dead.tasks["slow"].attempts[0].error or "")
    assert (tmp_path / "finished.txt").read_text().split() == ["a", "slow", "c"]
    assert "lost its runner" in restarted.text()

    temporary = settings.home / "artifacts" / "tmp"
    assert not temporary.exists() or list(temporary.iterdir()) == []

    restarted.process.send_signal(signal.SIGTERM)
    assert restarted.process.wait(timeout=30) == 0, restarted.text()


SLOW_TICKER = textwrap.dedent(
    """
    import time

    import dagwell as dw


    @dw.task
    def nap() -> str:
        time.sleep(2)
        return "rested"


    @dw.pipeline(schedule=dw.every(seconds=1), max_active_runs=1)
    def napping():
        return nap()
    """
)


def test_ctrl_c_waits_for_the_runs_in_progress_which_finish(
    tmp_path: Path, settings: dw.Settings, start_daemon: Start
) -> None:
    """Ctrl-C in a terminal reaches the whole process group; runs must not die of it."""
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "napping.py").write_text(SLOW_TICKER)
    daemon = start_daemon(str(folder), "--plain", "--workers", "1")

    def running() -> list[dw.Run]:
        return [r for r in runs_of(settings, "napping") if r.status == "running"]

    [run] = wait_for(running, "a run in progress", daemon)
    os.killpg(daemon.process.pid, signal.SIGINT)

    assert daemon.process.wait(timeout=60) == 130, daemon.text()
    assert dw.get_run(run.id, settings=settings).status == "succeeded", daemon.text()
    assert "waiting for 1 run(s) to finish" in daemon.text()


def test_a_second_ctrl_c_cancels_the_runs_in_progress(
    tmp_path: Path, settings: dw.Settings, start_daemon: Start
) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "napping.py").write_text(SLOW_TICKER.replace("time.sleep(2)", "time.sleep(120)"))
    daemon = start_daemon(str(folder), "--plain", "--workers", "1")

    def running() -> list[dw.Run]:
        return [r for r in runs_of(settings, "napping") if r.status == "running"]

    [run] = wait_for(running, "a run in progress", daemon)
    os.killpg(daemon.process.pid, signal.SIGINT)
    wait_for(lambda: "waiting for 1 run(s)" in daemon.text(), "the first Ctrl-C", daemon)
    os.killpg(daemon.process.pid, signal.SIGINT)

    assert daemon.process.wait(timeout=60) == 130, daemon.text()
    assert "cancelling the runs in progress" in daemon.text()
    assert dw.get_run(run.id, settings=settings).status == "cancelled", daemon.text()
