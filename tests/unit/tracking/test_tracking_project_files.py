"""Project files: the user's own sources, as opposed to the standard library, site-packages,
the Python prefixes and dagwell."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

import dagwell.tracking.canonical
import dagwell.tracking.project_files
from dagwell.tracking.project_files import is_project_file


def test_a_source_file_in_a_project_folder_is_the_projects(tmp_path: Path) -> None:
    task_file = str(tmp_path / "pipeline.py")
    helper = str(tmp_path / "features" / "clean.py")

    assert is_project_file(task_file, None)
    assert is_project_file(task_file, task_file)
    assert is_project_file(helper, task_file)


def test_standard_library_and_installed_packages_are_not_the_projects(tmp_path: Path) -> None:
    anchor = str(tmp_path / "pipeline.py")
    for installed in (json.__file__, os.__file__, pytest.__file__):
        assert not is_project_file(installed, None), installed
        assert not is_project_file(installed, anchor), installed


def test_any_file_under_a_site_packages_or_dist_packages_folder_is_installed(
    tmp_path: Path,
) -> None:
    for folder in ("site-packages", "dist-packages"):
        assert not is_project_file(str(tmp_path / folder / "lib" / "mod.py"), None)


def test_only_python_source_files_count(tmp_path: Path) -> None:
    assert not is_project_file(str(tmp_path / "notes.txt"), None)
    assert not is_project_file(str(tmp_path / "compiled.pyc"), None)
    assert not is_project_file("<stdin>", None)


def test_dagwells_own_files_are_not_the_projects_unless_one_is_the_task_file() -> None:
    """The demo's tasks live in dagwell: that file counts, its neighbours do not."""
    demo = dagwell.tracking.canonical.__file__
    neighbour = dagwell.tracking.project_files.__file__
    assert demo is not None and neighbour is not None

    assert not is_project_file(demo, None)
    assert is_project_file(demo, demo)
    assert not is_project_file(neighbour, demo)


def test_a_project_under_a_python_prefix_counts_only_when_the_task_file_is_there() -> None:
    """Python in /usr and the project in /usr/src/app: the prefix alone does not exclude it."""
    app = Path(sys.base_prefix) / f"src-{uuid.uuid4().hex[:8]}" / "app"
    task_file, helper = str(app / "pipeline.py"), str(app / "features.py")

    assert not is_project_file(helper, None)
    assert is_project_file(helper, task_file)
    assert not is_project_file(json.__file__, task_file)
