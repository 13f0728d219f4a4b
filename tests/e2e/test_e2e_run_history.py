"""``dagwell runs`` filters (pipeline, status, time, trigger) and ``dagwell show``'s origin line."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]

PIPELINES = """
import dagwell as dw


@dw.task
def one(fail: bool) -> int:
    if fail:
        raise ValueError("asked to fail")
    return 1


@dw.pipeline
def alpha(fail: bool = False):
    return one(fail)


@dw.pipeline(schedule="@daily")
def beta(fail: bool = False):
    return one(fail)
"""


def ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [run["id"] for run in json.loads(result.stdout)]


def test_runs_filter_by_pipeline_status_time_and_trigger(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(PIPELINES)
    ok = run_cli("run", "flows.py:alpha", "--executor", "inline", "-q")
    failed = run_cli("run", "flows.py:alpha", "-p", "fail=true", "--executor", "inline", "-q")
    assert (ok.returncode, failed.returncode) == (0, 1)
    done = run_cli("backfill", "flows.py:beta", "--start", "2026-01-01", "--end", "2026-01-02")
    assert done.returncode == 0, done.stderr

    every = ids(run_cli("runs", "--json"))
    assert len(every) == 4
    assert len(ids(run_cli("runs", "--pipeline", "alpha", "--json"))) == 2
    assert len(ids(run_cli("runs", "--status", "failed", "--json"))) == 1
    assert len(ids(run_cli("runs", "--status", "queued", "--json"))) == 2
    assert len(ids(run_cli("runs", "--trigger", "backfill", "--json"))) == 2
    assert ids(run_cli("runs", "--since", "1h", "--json")) == every
    assert ids(run_cli("runs", "--until", "2000-01-01", "--json")) == []
    assert ids(run_cli("runs", "--since", "2999-01-01T00:00", "--json")) == []

    bad = run_cli("runs", "--since", "yesterday")
    assert bad.returncode == 2
    assert "'yesterday'" in bad.stderr and "7d" in bad.stderr


def test_show_names_how_a_run_started_and_its_logical_time(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(PIPELINES)
    done = run_cli("backfill", "flows.py:beta", "--start", "2026-03-01", "--end", "2026-03-01")
    assert done.returncode == 0, done.stderr
    (run_id,) = ids(run_cli("runs", "--json"))

    shown = run_cli("show", run_id)
    as_json = json.loads(run_cli("show", run_id, "--json").stdout)

    assert shown.returncode == 0, shown.stderr
    assert "trigger backfill" in shown.stdout
    assert "scheduled for 2026-03-01" in shown.stdout
    assert as_json["trigger"] == "backfill"
    assert as_json["scheduled_for"] == "2026-03-01T00:00:00+00:00"


ALERTING = """
import dagwell as dw


@dw.task(on_failure=dw.notify.log())
def breaks() -> int:
    raise ValueError("out of coffee")


@dw.pipeline
def alerting():
    return breaks()
"""


def test_show_lists_the_alerts_a_run_raised(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "alerting.py").write_text(ALERTING)
    failed = run_cli("run", "alerting.py", "--executor", "inline", "-q")
    assert failed.returncode == 1
    (run_id,) = ids(run_cli("runs", "--json"))

    shown = run_cli("show", run_id)
    as_json = json.loads(run_cli("show", run_id, "--json").stdout)

    assert "failure" in shown.stdout and "out of coffee" in shown.stdout
    assert "delivered 1/1" in shown.stdout
    assert [(a["kind"], a["node"]) for a in as_json["alerts"]] == [("failure", "breaks")]
