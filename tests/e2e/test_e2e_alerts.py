"""Alerts through the real ``dagwell`` command: a failing run posts to a webhook receiver
running in this test, and ``dagwell alerts`` lists what was sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pipelines_for_alerts as pa
import pytest

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]

FAILING = """
import dagwell as dw

hook = dw.notify.webhook("{url}")


@dw.task(on_failure=hook)
def load() -> int:
    raise RuntimeError("source table is empty")


@dw.pipeline(on_failure=[hook, dw.notify.log()])
def nightly():
    return load()
"""


def test_a_failing_run_posts_its_alerts_and_dagwell_alerts_lists_them(
    run_cli: RunCli, tmp_path: Path
) -> None:
    with pa.receiver() as got:
        (tmp_path / "nightly.py").write_text(FAILING.format(url=got.url))
        ran = run_cli("run", "nightly.py")

    assert ran.returncode == 1, ran.stderr
    assert "[dagwell] pipeline 'nightly' failed" in ran.stderr  # dw.notify.log()
    assert [(b["kind"], b["node"]) for b in got.bodies] == [("failure", "load"), ("failure", None)]
    assert "RuntimeError: source table is empty" in got.bodies[0]["text"]

    listed = run_cli("alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    alerts = json.loads(listed.stdout)
    assert [a["id"] for a in alerts] == [b["id"] for b in reversed(got.bodies)]
    assert alerts[0]["pipeline"] == "nightly"
    assert [len(a["deliveries"]) for a in alerts] == [2, 1]
    assert all(d["ok"] for a in alerts for d in a["deliveries"])

    narrow = run_cli("alerts", "--kind", "failure", "--pipeline", "nightly")
    assert narrow.returncode == 0, narrow.stderr
    assert f"{alerts[0]['id']}  " in narrow.stdout and "(delivered 2/2)" in narrow.stdout

    wide = wide_alerts_table(tmp_path)
    columns = "alert time kind pipeline run node attempt summary delivered"
    assert wide.splitlines()[0].split() == columns.split()
    row = next(line for line in wide.splitlines() if line.strip().startswith(alerts[1]["id"]))
    assert " nightly " in row and " load " in row and row.rstrip().endswith("1/1")


def wide_alerts_table(folder: Path) -> str:
    """``dagwell alerts`` in a 200-column terminal: the table layout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env.update(DAGWELL_HOME=str(folder / "home"), COLUMNS="200")
    ran = subprocess.run(
        [sys.executable, "-m", "dagwell.interfaces.cli.main", "alerts"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_dagwell_alerts_refuses_an_unknown_kind_naming_the_valid_ones(run_cli: RunCli) -> None:
    ran = run_cli("alerts", "--kind", "panic")

    assert ran.returncode == 2
    assert "unknown alert kind 'panic'; use one of: failure, retry, success, sla_miss" in ran.stderr
