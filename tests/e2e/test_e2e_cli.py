"""The real ``dagwell`` command, as a user runs it: a subprocess in a project folder.

Each test gets its own folder (the subprocess's cwd) and its own DAGWELL_HOME inside it,
from the ``run_cli`` fixture in ``tests/conftest.py``. Subprocesses cost about half a second
each, so every test makes only the calls its behaviour needs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RunCli = Callable[..., subprocess.CompletedProcess[str]]
FINISHED = re.compile(r"^run ([0-9a-f]{12}) (succeeded|failed) in ", re.MULTILINE)

TWO_PIPELINES = """
import dagwell as dw


@dw.task
def one() -> int:
    return 1


@dw.pipeline
def first():
    return one()


@dw.pipeline(name="second")
def second_pipeline(k: int = 2):
    return one()
"""

SYNTAX_ERROR = """
import dagwell as dw


@dw.pipeline
def broken(:
    pass
"""

HELPER = """
def triple(x):
    return 3 * x
"""

USES_HELPER = """
import dagwell as dw
from e2e_sibling_helper import triple


@dw.task
def compute(x: int) -> int:
    print(f"computing from {x}")
    return triple(x)


@dw.pipeline
def with_helper(x: int = 2):
    return compute(x)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: the examples, a file with two pipelines, a broken file, a subfolder."""
    for name in ("hello.py", "flaky.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    (tmp_path / "two.py").write_text(TWO_PIPELINES)
    (tmp_path / "bad.py").write_text(SYNTAX_ERROR)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "e2e_sibling_helper.py").write_text(HELPER)
    (tmp_path / "lib" / "uses_helper.py").write_text(USES_HELPER)
    return tmp_path


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def finished_run(result: subprocess.CompletedProcess[str], status: str) -> str:
    """The id of the run that ``dagwell run`` reported, checking its final status."""
    match = FINISHED.search(result.stdout)
    assert match is not None, outcome(result)
    assert match.group(2) == status, outcome(result)
    return match.group(1)


def show(run_cli: RunCli, run_id: str) -> dict[str, Any]:
    result = run_cli("show", run_id, "--json")
    assert result.returncode == 0, outcome(result)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def tasks_by_node(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["node"]: task for task in shown["tasks"]}


def test_run_prints_its_id_and_params_change_the_result(run_cli: RunCli, project: Path) -> None:
    default = run_cli("run", "hello.py")
    five = run_cli("run", "hello.py", "-p", "n=5")

    assert default.returncode == 0, outcome(default)
    assert five.returncode == 0, outcome(five)
    default_id = finished_run(default, "succeeded")
    five_id = finished_run(five, "succeeded")
    assert default_id != five_id
    shown_default, shown_five = show(run_cli, default_id), show(run_cli, five_id)
    assert (shown_default["id"], shown_default["params"]) == (default_id, {"n": 3})
    assert (shown_five["id"], shown_five["params"]) == (five_id, {"n": 5})
    assert tasks_by_node(shown_default)["total"]["outputs"]["return"]["inline"] == 14
    assert tasks_by_node(shown_five)["total"]["outputs"]["return"]["inline"] == 55


def test_failed_run_exits_1_and_names_the_failing_node(run_cli: RunCli, project: Path) -> None:
    result = run_cli("run", "flaky.py")

    assert result.returncode == 1, outcome(result)
    run_id = finished_run(result, "failed")
    assert re.search(r"^\s*broken: ValueError: the model did not converge$", result.stdout, re.M)
    assert "Traceback" not in result.stdout + result.stderr

    shown = show(run_cli, run_id)
    assert shown["status"] == "failed"
    tasks = tasks_by_node(shown)
    assert {n: t["status"] for n, t in tasks.items()} == {
        "load": "succeeded",
        "broken": "failed",
        "after_broken": "upstream_failed",
        "independent": "succeeded",
    }
    assert [a["status"] for a in tasks["broken"]["attempts"]] == ["failed"] * 3
    assert tasks["after_broken"]["attempts"] == []

    logs = run_cli("logs", run_id, "broken")
    assert logs.returncode == 0, outcome(logs)
    for attempt in (1, 2, 3):
        assert f"got [1, 2, 3], attempt {attempt}" in logs.stdout
    assert "ValueError: the model did not converge" in logs.stdout


def test_runs_and_show_print_json_for_scripts(run_cli: RunCli, project: Path) -> None:
    ok = run_cli("run", "two.py:first")
    failed = run_cli("run", "flaky.py")
    ok_id, failed_id = finished_run(ok, "succeeded"), finished_run(failed, "failed")

    listed = run_cli("runs", "--json")
    assert listed.returncode == 0, outcome(listed)
    runs = json.loads(listed.stdout)
    assert isinstance(runs, list)
    assert [(r["id"], r["pipeline"], r["status"]) for r in runs] == [
        (failed_id, "flaky", "failed"),
        (ok_id, "first", "succeeded"),
    ]
    for r in runs:
        assert {"id", "pipeline", "status", "started_at", "ended_at"} <= set(r)
        assert datetime.fromisoformat(r["started_at"]) <= datetime.fromisoformat(r["ended_at"])

    shown = show(run_cli, failed_id)
    assert {"id", "pipeline", "status", "params", "tasks"} <= set(shown)
    assert (shown["id"], shown["pipeline"], shown["params"]) == (failed_id, "flaky", {})
    assert isinstance(shown["tasks"], list)
    for task in shown["tasks"]:
        assert {"node", "status", "attempts", "started_at", "ended_at"} <= set(task)
        assert isinstance(task["attempts"], list)
        for attempt in task["attempts"]:
            assert datetime.fromisoformat(attempt["started_at"]) <= datetime.fromisoformat(
                attempt["ended_at"]
            )


def test_logs_prints_what_the_tasks_printed(run_cli: RunCli, project: Path) -> None:
    run_id = finished_run(run_cli("run", "hello.py", "-p", "n=5"), "succeeded")

    one = run_cli("logs", run_id, "total")
    every = run_cli("logs", run_id)

    assert one.returncode == 0, outcome(one)
    assert "adding 5 values" in one.stdout
    assert "squaring" not in one.stdout
    assert every.returncode == 0, outcome(every)
    assert "squaring 5" in every.stdout  # logging, in a dynamic fan-out child
    assert "total is 55" in every.stdout  # a shell task's output


@pytest.mark.parametrize(
    ("args", "exit_code", "needles"),
    [
        (["run", "hello.py", "-p", "n=abc"], 2, ["'n'", "int", "'abc'"]),
        (["run", "hello.py", "-p", "m=3"], 2, ["no param 'm'", "params are: n"]),
        (["run", "hello.py", "-p", "n"], 2, ["key=value", "'n'"]),
        (["run", "missing.py"], 2, ["missing.py", "does not exist"]),
        (["run", "two.py"], 2, ["several pipelines", "first", "second", "two.py:first"]),
        (["run", "two.py:third"], 2, ["no pipeline named 'third'", "first, second"]),
        (["run", "bad.py"], 2, ["bad.py", "syntax error", "line 6"]),
        (["show", "ffffffffffff"], 3, ["no run", "'ffffffffffff'"]),
    ],
    ids=[
        "bad-param-value",
        "unknown-param",
        "param-without-equals",
        "missing-file",
        "two-pipelines-no-name",
        "unknown-pipeline-name",
        "syntax-error",
        "unknown-run",
    ],
)
def test_user_mistakes_give_a_one_line_error_without_traceback(
    run_cli: RunCli, project: Path, args: list[str], exit_code: int, needles: list[str]
) -> None:
    result = run_cli(*args)

    assert result.returncode == exit_code, outcome(result)
    assert "Traceback" not in result.stdout + result.stderr, outcome(result)
    assert "started" not in result.stdout, "nothing may run after a user mistake"
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1, outcome(result)
    for needle in needles:
        assert needle in errors[0], outcome(result)


def test_file_colon_name_runs_the_named_pipeline(run_cli: RunCli, project: Path) -> None:
    result = run_cli("run", "two.py:second", "-p", "k=3")

    assert result.returncode == 0, outcome(result)
    assert "pipeline second" in result.stdout
    finished_run(result, "succeeded")


def test_pipeline_file_imports_a_sibling_module_under_the_process_executor(
    run_cli: RunCli, project: Path
) -> None:
    (project / "e2e_sibling_helper.py").write_text("raise ImportError('the wrong helper')\n")

    result = run_cli(
        "run",
        str(Path("lib") / "uses_helper.py"),
        "-p",
        "x=4",
        "--executor",
        "process",
        "--workers",
        "2",
    )

    assert result.returncode == 0, outcome(result)
    shown = show(run_cli, finished_run(result, "succeeded"))
    compute = tasks_by_node(shown)["compute"]
    assert compute["outputs"]["return"]["inline"] == 12
    log_path = compute["attempts"][0]["log_path"]
    assert "computing from 4" in Path(log_path).read_text()
