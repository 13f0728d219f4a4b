"""``dagwell run`` prints a pipeline's result when the database holds it, and only then.

A result made of small plain values is printed as ``result: <repr>``, cut to about 300
characters. A result that refers to an artifact is not printed, so nothing large is ever
loaded just to be shown: the artifacts here record being loaded by creating a file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import dagwell as dw

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RunCli = Callable[..., subprocess.CompletedProcess[str]]
FINISHED = re.compile(r"^run ([0-9a-f]{12}) succeeded in ", re.MULTILINE)

PIPELINES = """
from pathlib import Path

import dagwell as dw


class TouchedWhenLoaded:
    \"\"\"Stored as a pickle whose loading creates the file ``path``.\"\"\"

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@dw.task
def names() -> list[str]:
    return ["a", "b"]


@dw.task
def heavy(name: str) -> TouchedWhenLoaded:
    return TouchedWhenLoaded(Path.cwd() / f"loaded-{name}")


@dw.task
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@dw.task
def square(x: int) -> int:
    return x * x


@dw.task
def text(n: int) -> str:
    return "x" * n


@dw.task
def nothing() -> None:
    return None


@dw.pipeline
def small(n: int = 3):
    return {"squares": square.map(numbers(n)), "text": text(1000)}


@dw.pipeline
def single():
    return {"count": 2, "model": heavy("single")}


@dw.pipeline
def gathered():
    return heavy.map(names())


@dw.pipeline
def empty():
    return nothing()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "hello.py", tmp_path / "hello.py")
    (tmp_path / "results.py").write_text(PIPELINES)
    return tmp_path


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def result_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, outcome(result)
    assert FINISHED.search(result.stdout), outcome(result)
    return [line for line in result.stdout.splitlines() if line.startswith("result:")]


def test_run_prints_a_small_result_after_the_run_line(run_cli: RunCli, project: Path) -> None:
    result = run_cli("run", "hello.py", "-p", "n=4")

    assert result_lines(result) == ["result: {'total': 30}"]
    lines = result.stdout.splitlines()
    finished = next(i for i, line in enumerate(lines) if FINISHED.match(line))
    assert lines[finished + 1] == "result: {'total': 30}"


def test_a_long_result_is_cut_to_one_line_of_about_300_characters(
    run_cli: RunCli, project: Path
) -> None:
    result = run_cli("run", "results.py:small", "--executor", "inline")

    [line] = result_lines(result)
    shown = line.removeprefix("result: ")
    assert shown.startswith("{'squares': [1, 4, 9], 'text': 'xxxx")  # a gathered fan-out
    assert len(shown) == 300
    assert shown.endswith("x…")


@pytest.mark.parametrize(
    ("pipeline", "markers"),
    [("single", ["loaded-single"]), ("gathered", ["loaded-a", "loaded-b"])],
)
def test_a_result_that_refers_to_an_artifact_is_not_loaded_or_printed(
    run_cli: RunCli, project: Path, pipeline: str, markers: list[str]
) -> None:
    result = run_cli("run", f"results.py:{pipeline}")

    assert result_lines(result) == []
    assert [m for m in markers if (project / m).exists()] == []
    # The check can fail: loading the recorded result does create the files.
    match = FINISHED.search(result.stdout)
    assert match is not None
    settings = dw.Settings.from_env({}, home=project / "home")
    dw.get_run(match.group(1), settings=settings).result()
    assert [m for m in markers if (project / m).exists()] == markers


def test_a_none_result_is_not_printed(run_cli: RunCli, project: Path) -> None:
    assert result_lines(run_cli("run", "results.py:empty", "--executor", "inline")) == []
