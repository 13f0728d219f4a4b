"""Tests for dagwell.testing: running pipelines in tests without touching real records."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.testing import run_inline, temporary_settings


@dw.task
def double(x: int) -> int:
    return 2 * x


@dw.task
def where_am_i() -> int:
    return os.getpid()


@dw.task
def explode(x: int) -> int:
    raise ValueError(f"no good: {x}")


@dw.pipeline
def doubled(x: int = 2) -> dict[str, int]:
    return {"twice": double(x)}


@dw.pipeline
def which_process() -> int:
    return where_am_i()


@dw.pipeline
def exploding(x: int = 1) -> int:
    return explode(double(x))


@pytest.fixture(autouse=True)
def real_records_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment pointing at a project's real records, which the helpers must ignore."""
    real = tmp_path / "real"
    monkeypatch.setenv("DAGWELL_HOME", str(real))
    monkeypatch.setenv("DAGWELL_DB_URL", f"sqlite:///{real / 'dagwell.db'}")
    monkeypatch.setenv("DAGWELL_ARTIFACTS", str(real / "artifacts"))
    return real


def test_run_inline_runs_in_this_process_and_returns_the_recorded_run(tmp_path: Path) -> None:
    run = run_inline(which_process, home=tmp_path / "home")

    assert run.status == dw.RunState.SUCCEEDED
    assert run.result() == os.getpid()


def test_run_inline_passes_params_and_loads_outputs(tmp_path: Path) -> None:
    run = run_inline(doubled, {"x": 21}, home=tmp_path / "home")

    assert run.params == {"x": 21}
    assert run.output("double") == 42
    assert run.result() == {"twice": 42}


def test_run_inline_records_under_home_and_ignores_the_environment(
    tmp_path: Path, real_records_elsewhere: Path
) -> None:
    home = tmp_path / "home"

    run = run_inline(doubled, home=home)

    assert (home / "dagwell.db").is_file()
    assert not real_records_elsewhere.exists()
    found = dw.get_run(run.id, settings=dw.Settings.from_env({}, home=home))
    assert found.result() == {"twice": 4}


def test_run_inline_without_home_records_in_a_new_temporary_folder(
    real_records_elsewhere: Path,
) -> None:
    first, second = run_inline(doubled), run_inline(doubled)

    assert first.result() == second.result() == {"twice": 4}
    assert not real_records_elsewhere.exists()
    # An attempt's log is HOME/logs/RUN/FILE, which tells where each run was recorded.
    homes = [Path(r.tasks["double"].attempts[0].log_path or "").parents[2] for r in (first, second)]
    assert homes[0] != homes[1]
    for home in homes:
        assert home.name.startswith("dagwell-test-")
        assert (home / "dagwell.db").is_file()
        shutil.rmtree(home)


def test_run_inline_reports_a_failed_task_instead_of_raising(tmp_path: Path) -> None:
    run = run_inline(exploding, {"x": 3}, home=tmp_path / "home")

    assert run.status == dw.RunState.FAILED
    assert run.tasks["double"].status == dw.TaskState.SUCCEEDED
    assert run.tasks["explode"].error == "ValueError: no good: 6"


def test_run_inline_rejects_bad_params_before_running(tmp_path: Path) -> None:
    with pytest.raises(dw.ParamError, match="'y'"):
        run_inline(doubled, {"y": 1}, home=tmp_path / "home")


def test_temporary_settings_are_rooted_in_a_folder_removed_on_leaving(
    real_records_elsewhere: Path,
) -> None:
    with temporary_settings() as settings:
        run = dw.run(doubled, {"x": 5}, executor="inline", settings=settings)
        assert [r.id for r in dw.list_runs(settings=settings)] == [run.id]
        assert run.result() == {"twice": 10}
        assert settings.db_url == f"sqlite:///{settings.home / 'dagwell.db'}"
        assert Path(settings.artifacts_url).parent == settings.home
        assert settings.home.is_dir()

    assert not settings.home.exists()
    assert not real_records_elsewhere.exists()


def test_temporary_settings_remove_the_folder_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="inside"), temporary_settings() as settings:
        dw.run(doubled, executor="inline", settings=settings)
        raise RuntimeError("inside the block")

    assert not settings.home.exists()


def test_each_temporary_settings_has_its_own_folder() -> None:
    with temporary_settings() as first, temporary_settings() as second:
        assert first.home != second.home
        assert first.db_url != second.db_url
