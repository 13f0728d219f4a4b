"""``dagwell code``, ``diff`` and ``compare`` through the real command, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]
FINISHED = re.compile(r"^run ([0-9a-f]{12}) succeeded in ", re.MULTILINE)

PIPELINE = """
import dagwell as dw
from scoring import score


@dw.task
def train(C: float):
    dw.log_param("solver", "lbfgs")
    dw.log_metric("accuracy", score(C))
    return C


@dw.pipeline
def churn(C: float = 1.0):
    return train(C)
"""


def run_ok(run_cli: RunCli, *args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(run_cli: RunCli, C: str) -> str:
    found = FINISHED.search(run_ok(run_cli, "run", "pipeline.py", "-p", f"C={C}"))
    assert found, "no run id printed"
    return found.group(1)


@pytest.fixture
def two_runs(tmp_path: Path, run_cli: RunCli) -> tuple[str, str]:
    """Two runs of one project: C and the helper module differ between them."""
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "scoring.py").write_text("def score(C):\n    return C / 10\n")
    first = start(run_cli, "1.0")
    (tmp_path / "scoring.py").write_text("def score(C):\n    return C / 4\n")
    second = start(run_cli, "2.0")
    return first, second


def test_code_lists_the_files_and_prints_one(
    run_cli: RunCli, two_runs: tuple[str, str], tmp_path: Path
) -> None:
    first, _ = two_runs

    listing = run_ok(run_cli, "code", first)
    text = run_ok(run_cli, "code", first, "scoring.py")
    as_json = json.loads(run_ok(run_cli, "code", first, "--json"))
    unknown = run_cli("code", first, "nope.py")

    assert "pipeline.py" in listing and "scoring.py" in listing
    assert "git: not a git repository" in listing
    assert text == "def score(C):\n    return C / 10\n"
    assert as_json["files"] == {
        "pipeline.py": {"bytes": len(PIPELINE), "lines": len(PIPELINE.splitlines())},
        "scoring.py": {"bytes": 32, "lines": 2},
    }
    assert (as_json["entry"], as_json["git"]) == ("pipeline.py", None)
    assert unknown.returncode == 3
    assert "no file 'nope.py'" in unknown.stderr
    assert "pipeline.py, scoring.py" in unknown.stderr


def test_diff_shows_the_changed_param_and_the_helper_change(
    run_cli: RunCli, two_runs: tuple[str, str]
) -> None:
    first, second = two_runs

    out = run_ok(run_cli, "diff", first, second)

    assert "C: 1.0 -> 2.0" in out
    assert "solver" not in out  # the same in both runs
    assert "code: scoring.py (modified)" in out
    assert f"--- {first}/scoring.py\n+++ {second}/scoring.py\n" in out
    assert "-    return C / 10\n+    return C / 4\n" in out
    assert "pipeline.py (" not in out


def test_compare_shows_exactly_the_differences_as_a_table_and_as_json(
    run_cli: RunCli, two_runs: tuple[str, str]
) -> None:
    first, second = two_runs

    table = run_ok(run_cli, "compare", first, second)
    data = json.loads(run_ok(run_cli, "compare", first, second, "--json"))

    assert first in table and second in table
    for label in ("params", "metrics", "code", "environment", "train/accuracy", "changed files"):
        assert label in table
    assert data["runs"] == [first, second]
    differing = {
        (section, row["name"]): row["values"]
        for section in ("params", "task_params", "metrics", "code", "environment")
        for row in data[section]
        if row["differs"]
    }
    snapshots = differing.pop(("code", "snapshot"))
    assert len(set(snapshots.values())) == 2
    assert differing == {
        ("params", "C"): {first: 1.0, second: 2.0},
        ("metrics", "train/accuracy"): {first: 0.1, second: 0.5},
        ("code", "changed files"): {first: [], second: ["scoring.py"]},
    }
    same = {row["name"] for row in data["task_params"] + data["environment"]}
    assert {"train/solver", "python", "platform"} <= same


def test_compare_needs_two_runs(run_cli: RunCli, two_runs: tuple[str, str]) -> None:
    done = run_cli("compare", two_runs[0])

    assert done.returncode == 2
    assert "at least two runs" in done.stderr
