"""Code snapshots: which files are kept, under which paths, and the git state read from disk."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dagwell.core.records import CodeSnapshot, Run
from dagwell.core.states import RunState
from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError
from dagwell.storage.artifacts import ArtifactStore
from dagwell.tracking import code as code_module
from dagwell.tracking.code import project_files, save_code, snapshot_code

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

Importer = Callable[[Path, str], ModuleType]


@pytest.fixture
def import_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[Importer]:
    """Import a module by name from a folder; forget it (and what it imported) afterwards."""
    folders: list[str] = []

    def load(folder: Path, name: str) -> ModuleType:
        monkeypatch.syspath_prepend(str(folder))
        folders.append(str(folder))
        return importlib.import_module(name)

    yield load
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None)).startswith(tuple(folders)):
            del sys.modules[name]


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def write_project(folder: Path) -> str:
    """A pipeline module importing a sibling helper and a package; returns a unique suffix."""
    tag = uuid.uuid4().hex[:8]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"helper_{tag}.py").write_text("def double(x):\n    return 2 * x\n")
    (folder / f"pkg_{tag}").mkdir()
    (folder / f"pkg_{tag}" / "__init__.py").write_text("")
    (folder / f"pkg_{tag}" / "util.py").write_text("ANSWER = 42\n")
    (folder / f"flow_{tag}.py").write_text(
        "import numpy\n"
        f"from helper_{tag} import double\n"
        f"from pkg_{tag}.util import ANSWER\n\n"
        "def body():\n    return double(ANSWER)\n"
    )
    return tag


def test_the_snapshot_holds_the_module_and_its_project_imports_by_relative_path(
    tmp_path: Path, import_from: Importer
) -> None:
    tag = write_project(tmp_path / "project")
    flow = import_from(tmp_path / "project", f"flow_{tag}")

    code = snapshot_code(flow.body)

    assert sorted(code.files) == sorted(
        [f"flow_{tag}.py", f"helper_{tag}.py", f"pkg_{tag}/__init__.py", f"pkg_{tag}/util.py"]
    )
    assert code.files[f"helper_{tag}.py"] == "def double(x):\n    return 2 * x\n"
    assert code.entry == f"flow_{tag}.py"


def test_installed_modules_and_dagwell_itself_are_left_out(
    tmp_path: Path, import_from: Importer
) -> None:
    tag = write_project(tmp_path / "project")
    flow = import_from(tmp_path / "project", f"flow_{tag}")

    files = snapshot_code(flow.body).files

    assert "numpy" in sys.modules
    assert not [path for path in files if "numpy" in path or "dagwell" in path]
    assert all(not path.startswith("/") and ".." not in path for path in files)


def test_a_site_packages_folder_inside_the_project_is_left_out(
    tmp_path: Path, import_from: Importer
) -> None:
    tag = write_project(tmp_path / "project")
    installed = tmp_path / "project" / ".venv" / "lib" / "site-packages"
    installed.mkdir(parents=True)
    (installed / f"vendored_{tag}.py").write_text("X = 1\n")
    import_from(installed, f"vendored_{tag}")
    flow = import_from(tmp_path / "project", f"flow_{tag}")

    files = snapshot_code(flow.body).files

    assert f"flow_{tag}.py" in files
    assert not [path for path in files if "vendored" in path]


def test_modules_outside_the_project_root_are_left_out(
    tmp_path: Path, import_from: Importer
) -> None:
    tag = write_project(tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / f"other_{tag}.py").write_text("Y = 2\n")
    import_from(tmp_path / "elsewhere", f"other_{tag}")
    flow = import_from(tmp_path / "project", f"flow_{tag}")

    assert not [p for p in snapshot_code(flow.body).files if "other" in p]


def test_project_files_always_include_the_entry_file(tmp_path: Path) -> None:
    entry = tmp_path / "script.py"
    entry.write_text("print('hi')\n")

    assert project_files(tmp_path, entry) == {"script.py": "print('hi')\n"}


def test_outside_git_there_is_no_git_information(tmp_path: Path, import_from: Importer) -> None:
    if code_module._git_root(tmp_path) is not None:
        pytest.skip("the temporary folder is inside a git repository")
    tag = write_project(tmp_path / "project")
    flow = import_from(tmp_path / "project", f"flow_{tag}")

    assert snapshot_code(flow.body).git is None


def test_inside_git_the_root_is_the_work_tree_and_the_state_is_recorded(
    tmp_path: Path, import_from: Importer
) -> None:
    repo = tmp_path / "repo"
    tag = write_project(repo / "flows")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    flow = import_from(repo / "flows", f"flow_{tag}")

    clean = snapshot_code(flow.body)
    (repo / "flows" / f"helper_{tag}.py").write_text("def double(x):\n    return 3 * x\n")
    dirty = snapshot_code(flow.body)

    assert clean.entry == f"flows/flow_{tag}.py"
    assert f"flows/helper_{tag}.py" in clean.files
    assert clean.git is not None and dirty.git is not None
    assert clean.git["commit"] == git(repo, "rev-parse", "HEAD")
    assert (clean.git["dirty"], clean.git["diff"]) == (False, "")
    assert dirty.git["dirty"] is True
    assert "-    return 2 * x" in dirty.git["diff"]
    assert "+    return 3 * x" in dirty.git["diff"]
    assert dirty.files[f"flows/helper_{tag}.py"].endswith("return 3 * x\n")


def test_a_long_diff_is_cut_and_flagged(
    tmp_path: Path, import_from: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = write_project(tmp_path)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first")
    (tmp_path / f"helper_{tag}.py").write_text("def double(x):\n    return x\n" + "y = 1\n" * 500)
    monkeypatch.setattr(code_module, "DIFF_LIMIT", 100)
    flow = import_from(tmp_path, f"flow_{tag}")

    git_info = snapshot_code(flow.body).git

    assert git_info is not None
    assert git_info["diff_truncated"] is True
    assert len(git_info["diff"]) == 100


@pytest.mark.parametrize("layout", ["loose", "packed", "detached", "worktree"])
def test_the_commit_read_from_files_is_the_one_git_reports(tmp_path: Path, layout: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    (repo / "a.txt").write_text("b")
    git(repo, "commit", "-q", "-am", "second")
    where = repo
    if layout == "packed":
        git(repo, "pack-refs", "--all")
    elif layout == "detached":
        git(repo, "checkout", "-q", "HEAD~1")
    elif layout == "worktree":
        where = tmp_path / "other"
        git(repo, "worktree", "add", "-q", "-b", "side", str(where), "HEAD~1")

    assert code_module._head_commit(where) == git(where, "rev-parse", "HEAD")


def test_a_repository_without_commits_has_no_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("")
    query = code_module._GitQuery(tmp_path)

    info = query.result()

    assert info["commit"] is None
    assert "error" not in info


def test_save_code_stores_one_json_object_per_distinct_snapshot(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    snapshot = CodeSnapshot(files={"b.py": "B", "a.py": "A"}, git=None, entry="a.py")

    first = save_code(store, snapshot)
    again = save_code(store, CodeSnapshot(files={"a.py": "A", "b.py": "B"}, entry="a.py"))
    other = save_code(store, CodeSnapshot(files={"a.py": "changed"}, entry="a.py"))

    assert first == again != other
    assert store.exists(first) and store.exists(other)
    stored = StoredValue(hash=first, serializer="json", size=0, type_name="dict")
    assert CodeSnapshot.from_dict(store.get(stored)) == snapshot


def test_run_code_is_loaded_through_the_runs_loader(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    digest = save_code(store, CodeSnapshot(files={"a.py": "A"}, entry="a.py"))
    run = Run("r1", "p", RunState.SUCCEEDED, {}, None, None, {}, code_hash=digest)

    with pytest.raises(NotFoundError, match="without an artifact store"):
        _ = run.code
    loaded = Run(
        "r1", "p", RunState.SUCCEEDED, {}, None, None, {}, code_hash=digest, loader=store.get
    )

    assert loaded.code == CodeSnapshot(files={"a.py": "A"}, entry="a.py", hash=digest)
    assert Run("r2", "p", RunState.SUCCEEDED, {}, None, None, {}).code is None


def test_dagwell_itself_is_kept_when_the_pipeline_is_one_of_its_modules() -> None:
    from dagwell.tracking.compare import compare_runs

    code = snapshot_code(compare_runs)

    assert code.entry is not None and code.entry.endswith("dagwell/tracking/compare.py")
    assert any(path.endswith("dagwell/core/records.py") for path in code.files)
