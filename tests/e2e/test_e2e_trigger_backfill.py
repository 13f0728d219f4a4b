"""``dagwell trigger``, ``backfill`` and ``pipelines`` as a user runs them: a subprocess.

No scheduler runs here, so queued runs stay queued and the tests read them back as they
were recorded. Each subprocess costs about half a second, so each test makes few calls.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.scheduling.daemon import Scheduler

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]

NIGHTLY = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def double(n: int) -> int:
        return 2 * n


    @dw.pipeline(schedule="0 3 * * *", timezone="Europe/Berlin")
    def nightly(n: int = 1, label: str = "x"):
        return double(n)
    """
)

BAD_SCHEDULE = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def one() -> int:
        return 1


    @dw.pipeline(schedule={schedule!r}, timezone={zone!r})
    def broken():
        return one()
    """
)


@pytest.fixture
def nightly(tmp_path: Path) -> Path:
    """``nightly.py`` in the folder the CLI runs in: one pipeline, daily at 03:00 Berlin."""
    path = tmp_path / "nightly.py"
    path.write_text(NIGHTLY)
    return path


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_trigger_file_and_name_with_a_param(run_cli: RunCli, nightly: Path) -> None:
    queued = json.loads(ok(run_cli("trigger", "nightly.py:nightly", "-p", "n=3", "--json")))
    assert queued["pipeline"] == "nightly"
    assert queued["status"] == "queued"
    assert queued["trigger"] == "manual"
    assert queued["params"] == {"n": 3, "label": "x"}
    assert queued["scheduled_for"] is None
    shown = json.loads(ok(run_cli("show", queued["id"], "--json")))
    assert shown["status"] == "queued"


def test_trigger_prints_the_run_and_that_no_scheduler_runs(run_cli: RunCli, nightly: Path) -> None:
    out = ok(run_cli("trigger", "nightly.py"))
    assert "queued run" in out
    assert "of nightly" in out
    assert "no scheduler is running" in out


def test_trigger_with_a_mistyped_param_exits_2(run_cli: RunCli, nightly: Path) -> None:
    done = run_cli("trigger", "nightly.py:nightly", "-p", "n=three")
    assert done.returncode == 2
    assert "param 'n' of pipeline 'nightly' expects int, got 'three'" in done.stderr


def test_trigger_an_unknown_name_exits_3(run_cli: RunCli) -> None:
    done = run_cli("trigger", "nosuch")
    assert done.returncode == 3
    assert "no pipeline named 'nosuch' is registered" in done.stderr


def test_backfill_a_file_queues_one_run_per_day_then_skips_them(
    run_cli: RunCli, nightly: Path
) -> None:
    args = ("backfill", "nightly.py", "--start", "2026-01-01", "--end", "2026-01-03", "--json")
    first = json.loads(ok(run_cli(*args)))
    times = ["2026-01-01T02:00:00+00:00", "2026-01-02T02:00:00+00:00", "2026-01-03T02:00:00+00:00"]
    assert [q["scheduled_for"] for q in first["queued"]] == times
    assert first["skipped"] == []
    again = json.loads(ok(run_cli(*args)))
    assert again == {"queued": [], "skipped": times}


def test_backfill_prints_what_it_queued(run_cli: RunCli, nightly: Path) -> None:
    out = ok(run_cli("backfill", "nightly.py", "--start", "2026-01-01", "--end", "2026-01-02"))
    assert out.count("queued run ") == 2
    assert "2 run(s) queued" in out


def test_backfill_a_reversed_range_exits_2(run_cli: RunCli, nightly: Path) -> None:
    done = run_cli("backfill", "nightly.py", "--start", "2026-01-05", "--end", "2026-01-01")
    assert done.returncode == 2
    assert "reversed" in done.stderr
    assert "2026-01-05" in done.stderr


@pytest.mark.parametrize("text", ["2026-13-45", "yesterday"])
def test_backfill_with_invalid_date_text_exits_2(run_cli: RunCli, nightly: Path, text: str) -> None:
    done = run_cli("backfill", "nightly.py", "--start", text, "--end", "2026-01-03")
    assert done.returncode == 2
    assert "--start" in done.stderr
    assert repr(text) in done.stderr


def test_pipelines_lists_what_a_scheduler_registered(
    run_cli: RunCli, nightly: Path, tmp_path: Path
) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    now = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
    Scheduler([str(nightly)], settings=settings).scan(now, force=True)
    [listed] = json.loads(ok(run_cli("pipelines", "--json")))
    assert listed["name"] == "nightly"
    assert listed["source"] == f"{nightly.resolve()}:nightly"
    assert listed["schedule"] == "0 3 * * *"
    assert listed["timezone"] == "Europe/Berlin"
    assert listed["next_due_at"] == "2026-01-11T02:00:00+00:00"
    queued = json.loads(ok(run_cli("trigger", "nightly", "--json")))
    assert queued["pipeline"] == "nightly"


@pytest.mark.parametrize(
    ("schedule", "zone", "quoted"),
    [
        ("61 3 * * *", "UTC", "'61 3 * * *'"),
        ("0 3 * * *", "Mars/Olympus_Mons", "'Mars/Olympus_Mons'"),
    ],
    ids=["invalid-cron", "unknown-timezone"],
)
def test_run_a_file_with_a_bad_schedule_exits_2_quoting_it(
    run_cli: RunCli, tmp_path: Path, schedule: str, zone: str, quoted: str
) -> None:
    (tmp_path / "broken.py").write_text(BAD_SCHEDULE.format(schedule=schedule, zone=zone))
    done = run_cli("run", "broken.py")
    assert done.returncode == 2
    assert quoted in done.stderr
    assert "pipeline 'broken'" in done.stderr
