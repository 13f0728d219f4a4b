"""Every run records its code snapshot and environment: real SQLite, local artifact store."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.execution.loader import load_pipeline
from dagwell.tracking.compare import compare_runs, diff_runs

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

FLOW = """
import numpy

import dagwell as dw
from helpers_{tag} import scale


@dw.task
def fit(C: float):
    dw.log_param("solver", "lbfgs")
    dw.log_metric("accuracy", scale(C))
    return scale(C)


@dw.pipeline
def flow_{tag}(C: float = 1.0):
    return fit(C)
"""


class Project:
    """A pipeline file and the helper module it imports, in a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tag = uuid.uuid4().hex[:8]
        folder.mkdir(parents=True, exist_ok=True)
        self.flow = folder / f"flow_{self.tag}.py"
        self.helpers = folder / f"helpers_{self.tag}.py"
        self.flow.write_text(FLOW.format(tag=self.tag))
        self.write_helper("C / 10")

    def write_helper(self, expression: str) -> None:
        self.helpers.write_text(f"def scale(C):\n    return {expression}\n")
        sys.modules.pop(f"helpers_{self.tag}", None)
        sys.modules.pop(f"flow_{self.tag}", None)

    def pipeline(self) -> dw.Pipeline:
        return load_pipeline(str(self.flow))

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.folder,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Callable[[str], Project]]:
    """Make projects under tmp_path; their modules and sys.path entries go away afterwards."""
    before_path = list(sys.path)
    yield lambda name: Project(tmp_path / name)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None)).startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = before_path


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_run_records_the_pipeline_file_and_its_helper_but_no_installed_code(
    settings: dw.Settings, project: Callable[[str], Project], executor: str
) -> None:
    proj = project("churn")

    run = dw.run(proj.pipeline(), {"C": 2.0}, executor=executor, workers=1, settings=settings)

    assert run.status == "succeeded"
    assert run.code is not None
    assert sorted(run.code.files) == sorted([proj.flow.name, proj.helpers.name])
    assert run.code.files[proj.helpers.name] == proj.helpers.read_text()
    assert run.code.entry == proj.flow.name
    assert run.code.hash == run.code_hash


def test_the_environment_names_python_and_installed_packages(
    settings: dw.Settings, project: Callable[[str], Project]
) -> None:
    run = dw.run(project("env").pipeline(), executor="inline", settings=settings)

    again = dw.get_run(run.id, settings=settings)
    assert again.environment is not None
    assert again.environment["python"] == platform.python_version()
    assert again.environment["implementation"] == platform.python_implementation()
    assert again.environment["packages"]["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert again.environment["packages"]["numpy"] == importlib.metadata.version("numpy")
    assert again.to_dict()["environment"] == again.environment
    assert again.to_dict()["code_hash"] == run.code_hash


def test_equal_code_is_stored_once_and_changed_code_again(
    settings: dw.Settings, project: Callable[[str], Project]
) -> None:
    proj = project("dedupe")
    first = dw.run(proj.pipeline(), executor="inline", settings=settings)
    second = dw.run(proj.pipeline(), {"C": 3.0}, executor="inline", settings=settings)
    proj.write_helper("C / 5")
    third = dw.run(proj.pipeline(), executor="inline", settings=settings)

    assert first.code_hash == second.code_hash != third.code_hash
    objects = [p for p in Path(settings.artifacts_url, "objects").rglob("*") if p.is_file()]
    assert {first.code_hash, third.code_hash} <= {p.parent.name + p.name for p in objects}
    assert third.code is not None
    assert "C / 5" in third.code.files[proj.helpers.name]


def test_inside_git_the_commit_dirty_flag_and_diff_are_recorded(
    settings: dw.Settings, project: Callable[[str], Project]
) -> None:
    proj = project("repo")
    proj.git("init", "-q")
    proj.git("add", "-A")
    proj.git("commit", "-q", "-m", "first")
    commit = proj.git("rev-parse", "HEAD")

    clean = dw.run(proj.pipeline(), executor="inline", settings=settings)
    proj.write_helper("C * 100")
    dirty = dw.run(proj.pipeline(), executor="inline", settings=settings)

    assert clean.code is not None and clean.code.git is not None
    assert dict(clean.code.git) == {
        "commit": commit,
        "dirty": False,
        "diff": "",
        "diff_truncated": False,
    }
    assert dirty.code is not None and dirty.code.git is not None
    assert dirty.code.git["commit"] == commit
    assert dirty.code.git["dirty"] is True
    assert f"+++ b/{proj.helpers.name}" in dirty.code.git["diff"]
    assert "+    return C * 100" in dirty.code.git["diff"]


def test_comparing_two_runs_shows_exactly_what_differs(
    settings: dw.Settings, project: Callable[[str], Project]
) -> None:
    proj = project("compare")
    old = dw.run(proj.pipeline(), {"C": 1.0}, executor="inline", settings=settings)
    proj.write_helper("C / 4")
    new = dw.run(proj.pipeline(), {"C": 2.0}, executor="inline", settings=settings)

    comparison = compare_runs([dw.get_run(old.id, settings=settings), new])
    changes = diff_runs(old, new)

    assert {(row.section, row.name): row.values for row in comparison.differences()} == {
        ("params", "C"): (1.0, 2.0),
        ("metrics", "fit/accuracy"): (0.1, 0.5),
        ("code", "snapshot"): (old.code_hash, new.code_hash),
        ("code", "changed files"): ((), (proj.helpers.name,)),
    }
    assert [(row.name, row.values) for row in changes.params] == [("C", (1.0, 2.0))]
    assert [(c.path, c.change) for c in changes.files] == [(proj.helpers.name, "modified")]
    assert "-    return C / 10\n+    return C / 4\n" in changes.files[0].diff


def test_a_pipeline_in_this_repository_keeps_its_file_but_not_dagwell_s_source(
    settings: dw.Settings,
) -> None:
    import pipelines_for_tests as p

    run = dw.run(p.tracked, executor="inline", settings=settings)

    assert run.code is not None and run.code.entry is not None
    assert run.code.entry.endswith("pipelines_for_tests.py")
    assert run.code.entry in run.code.files
    assert not [path for path in run.code.files if "src/dagwell/" in path or ".venv" in path]
