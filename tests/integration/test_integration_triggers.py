"""Queuing runs for the scheduler: ``dw.trigger``, ``dw.backfill`` and pipeline discovery.

Each test writes its pipeline files into tmp_path and queues runs in a real SQLite database
there (the ``settings`` fixture). Nothing runs the queued runs: a queued run is a record
the daemon would claim, and that record is what is checked.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

import dagwell as dw
from dagwell.scheduling.daemon import Scheduler
from dagwell.scheduling.discovery import discover, pipeline_files
from dagwell.scheduling.triggers import resolve
from dagwell.storage.metadata.registered import RegisteredPipeline, save_pipeline
from dagwell.storage.metadata.tables import runs
from dagwell.storage.shared import metadata_store

UTC = timezone.utc

FLOWS = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def double(n: int) -> int:
        return 2 * n


    @dw.pipeline(schedule="0 3 * * *", timezone="Europe/Berlin", params={"n": 2})
    def nightly(n: int = 1, label: str = "x"):
        return double(n)


    @dw.pipeline
    def adhoc(n: int):
        return double(n)
    """
)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A pipeline file with a scheduled pipeline (``nightly``) and an unscheduled one."""
    path = tmp_path / "trigger_flows.py"
    path.write_text(FLOWS)
    return path


def queued_rows(settings: dw.Settings) -> list[dict]:
    """Every run row in the database, as stored (params as the JSON column holds them)."""
    with metadata_store(settings.db_url).reading() as conn:
        return [dict(row._mapping) for row in conn.execute(select(runs).order_by(runs.c.id))]


def register(settings: dw.Settings, name: str, source: str, schedule: str | None) -> None:
    """Register a pipeline by name, as a scheduler daemon does after loading its file."""
    found = RegisteredPipeline(
        name=name,
        source=source,
        description="",
        params=[],
        max_active_runs=1,
        schedule=schedule,
        timezone="Europe/Berlin" if schedule else None,
        start_at=None,
        catchup=False,
        schedule_params={},
        last_scheduled_for=None,
        next_due_at=None,
        active=True,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with metadata_store(settings.db_url).transaction() as tx:
        save_pipeline(tx, found)


# -- dw.trigger ------------------------------------------------------------------------


def test_trigger_a_pipeline_object_loaded_from_a_file(settings, flows):
    pipeline = dw.load_pipeline(f"{flows}:nightly")
    queued = dw.trigger(pipeline, {"n": 3}, settings=settings)
    assert queued.status is dw.RunState.QUEUED
    assert queued.trigger == "manual"
    assert queued.pipeline == "nightly"
    assert queued.source == f"{flows.resolve()}:nightly"
    assert queued.params == {"n": 3, "label": "x"}
    assert queued.scheduled_for is None
    assert queued.tasks == {}


def test_trigger_records_the_params_as_json(settings, flows):
    queued = dw.trigger(f"{flows}:nightly", {"n": 3, "label": "hi"}, settings=settings)
    [row] = queued_rows(settings)
    assert row["id"] == queued.id
    assert row["status"] == "queued"
    assert row["trigger"] == "manual"
    assert row["source"] == f"{flows.resolve()}:nightly"
    assert json.loads(json.dumps(row["params"])) == {"n": 3, "label": "hi"}


def test_trigger_by_file_and_name(settings, flows):
    queued = dw.trigger(f"{flows}:adhoc", {"n": 7}, settings=settings)
    assert queued.pipeline == "adhoc"
    assert queued.source == f"{flows.resolve()}:adhoc"
    assert queued.params == {"n": 7}


def test_trigger_params_from_text_are_converted(settings, flows):
    queued = dw.trigger(f"{flows}:adhoc", {"n": "7"}, settings=settings, params_from_text=True)
    assert queued.params == {"n": 7}


def test_trigger_by_registered_name(settings, flows):
    register(settings, "nightly", f"{flows.resolve()}:nightly", "0 3 * * *")
    queued = dw.trigger("nightly", settings=settings)
    assert queued.pipeline == "nightly"
    assert queued.source == f"{flows.resolve()}:nightly"
    assert queued.params == {"n": 1, "label": "x"}


def test_trigger_by_a_name_the_scheduler_registered(settings, flows):
    Scheduler([str(flows.parent)], settings=settings).scan(datetime.now(UTC), force=True)
    assert [p.name for p in dw.registered_pipelines(settings=settings)] == ["adhoc", "nightly"]
    queued = dw.trigger("adhoc", {"n": 4}, settings=settings)
    assert queued.source == f"{flows.resolve()}:adhoc"
    assert queued.params == {"n": 4}


def test_trigger_by_registered_name_when_a_folder_of_that_name_is_in_the_cwd(
    settings, flows, tmp_path, monkeypatch
):
    """A project often has a ``data`` or ``reports`` folder; a pipeline may share the name."""
    register(settings, "reports", f"{flows.resolve()}:adhoc", None)
    (tmp_path / "reports").mkdir()
    monkeypatch.chdir(tmp_path)
    queued = dw.trigger("reports", {"n": 1}, settings=settings)
    assert queued.source == f"{flows.resolve()}:adhoc"


def test_trigger_an_unknown_name_lists_the_registered_ones(settings, flows):
    register(settings, "nightly", f"{flows.resolve()}:nightly", "0 3 * * *")
    register(settings, "adhoc", f"{flows.resolve()}:adhoc", None)
    with pytest.raises(dw.NotFoundError) as caught:
        dw.trigger("nosuch", settings=settings)
    message = str(caught.value)
    assert "no pipeline named 'nosuch' is registered" in message
    assert "registered: adhoc, nightly" in message
    assert queued_rows(settings) == []


def test_trigger_an_unknown_name_with_nothing_registered(settings):
    with pytest.raises(dw.NotFoundError, match="registered: none yet"):
        dw.trigger("nosuch", settings=settings)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"m": 1}, "has no param 'm'"),
        ({"n": "three"}, "param 'n' of pipeline 'nightly' expects int"),
    ],
)
def test_trigger_with_bad_params_queues_nothing(settings, flows, params, message):
    with pytest.raises(dw.ParamError, match=message):
        dw.trigger(f"{flows}:nightly", params, settings=settings)
    assert queued_rows(settings) == []


def test_trigger_without_a_required_param_queues_nothing(settings, flows):
    with pytest.raises(dw.ParamError, match="needs a value for param 'n'"):
        dw.trigger(f"{flows}:adhoc", settings=settings)
    assert queued_rows(settings) == []


def test_trigger_a_missing_file(settings, tmp_path):
    with pytest.raises(dw.PipelineLoadError, match="does not exist"):
        dw.trigger(str(tmp_path / "missing.py"), settings=settings)


def test_resolve_refuses_a_pipeline_not_defined_in_a_file(settings):
    fn = eval("lambda: None")  # its source file is "<string>", which no scheduler can load
    pipeline = dw.pipeline(name="inline")(fn)
    with pytest.raises(dw.DefinitionError, match="not defined in a file"):
        resolve(pipeline, settings)


# -- dw.backfill -----------------------------------------------------------------------


def berlin_3am(*days: int, month: int = 1) -> list[datetime]:
    """03:00 in Berlin in winter, in UTC, on each of ``days`` of 2026."""
    return [datetime(2026, month, day, 2, tzinfo=UTC) for day in days]


def test_backfill_queues_one_run_per_day(settings, flows):
    done = dw.backfill(f"{flows}:nightly", date(2026, 1, 1), date(2026, 1, 7), settings=settings)
    assert [moment for _, moment in done.queued] == berlin_3am(*range(1, 8))
    assert done.skipped == []
    for run_id, moment in done.queued:
        run = dw.get_run(run_id, settings=settings)
        assert run.status is dw.RunState.QUEUED
        assert run.trigger == "backfill"
        assert run.scheduled_for == moment
        assert run.source == f"{flows.resolve()}:nightly"
        assert run.params == {"n": 2, "label": "x"}
    assert len(queued_rows(settings)) == 7


def test_backfill_again_skips_every_time(settings, flows):
    first = dw.backfill(f"{flows}:nightly", date(2026, 1, 1), date(2026, 1, 7), settings=settings)
    again = dw.backfill(f"{flows}:nightly", date(2026, 1, 1), date(2026, 1, 7), settings=settings)
    assert again.queued == []
    assert again.skipped == [moment for _, moment in first.queued]
    assert len(queued_rows(settings)) == 7


def test_backfill_an_overlapping_range_queues_only_new_times(settings, flows):
    dw.backfill(f"{flows}:nightly", date(2026, 1, 1), date(2026, 1, 7), settings=settings)
    done = dw.backfill(f"{flows}:nightly", date(2026, 1, 5), date(2026, 1, 10), settings=settings)
    assert [moment for _, moment in done.queued] == berlin_3am(8, 9, 10)
    assert done.skipped == berlin_3am(5, 6, 7)
    assert len(queued_rows(settings)) == 10


def test_backfill_a_date_end_includes_that_day(settings, flows):
    done = dw.backfill(f"{flows}:nightly", date(2026, 1, 3), date(2026, 1, 3), settings=settings)
    assert [moment for _, moment in done.queued] == berlin_3am(3)


def test_backfill_a_datetime_end_stops_at_that_moment(settings, flows):
    done = dw.backfill(
        f"{flows}:nightly", date(2026, 1, 1), datetime(2026, 1, 3, 0, 0), settings=settings
    )
    assert [moment for _, moment in done.queued] == berlin_3am(1, 2)


def test_backfill_naive_datetimes_are_read_in_the_schedule_zone(settings, flows):
    moment = datetime(2026, 1, 4, 3, 0)  # 03:00 in Berlin, 02:00 UTC
    done = dw.backfill(f"{flows}:nightly", moment, moment, settings=settings)
    assert [when for _, when in done.queued] == berlin_3am(4)


def test_backfill_over_the_spring_change_queues_one_run_per_day(settings, flows):
    done = dw.backfill(f"{flows}:nightly", date(2026, 3, 26), date(2026, 4, 1), settings=settings)
    assert [moment for _, moment in done.queued] == [
        *berlin_3am(26, 27, 28, month=3),
        *[datetime(2026, 3, day, 1, tzinfo=UTC) for day in (29, 30, 31)],
        datetime(2026, 4, 1, 1, tzinfo=UTC),
    ]


def test_backfill_skips_a_time_the_scheduler_already_queued(settings, flows):
    scheduler = Scheduler([str(flows)], settings=settings)
    scheduler.scan(datetime(2026, 1, 1, 12, tzinfo=UTC), force=True)
    [scheduled] = scheduler.queue_due(datetime(2026, 1, 3, 12, tzinfo=UTC))
    assert dw.get_run(scheduled, settings=settings).scheduled_for == berlin_3am(3)[0]
    done = dw.backfill(f"{flows}:nightly", date(2026, 1, 2), date(2026, 1, 4), settings=settings)
    assert done.skipped == berlin_3am(3)
    assert [moment for _, moment in done.queued] == berlin_3am(2, 4)


def test_backfill_of_a_registered_name(settings, flows):
    register(settings, "nightly", f"{flows.resolve()}:nightly", "0 3 * * *")
    done = dw.backfill("nightly", date(2026, 1, 1), date(2026, 1, 2), settings=settings)
    assert len(done.queued) == 2


def test_backfill_a_reversed_range_is_refused(settings, flows):
    with pytest.raises(dw.DefinitionError, match="reversed") as caught:
        dw.backfill(f"{flows}:nightly", date(2026, 1, 5), date(2026, 1, 1), settings=settings)
    assert "2026-01-05" in str(caught.value)
    assert "2026-01-01" in str(caught.value)
    assert queued_rows(settings) == []


def test_backfill_an_empty_range_is_refused(settings, flows):
    with pytest.raises(dw.DefinitionError, match="nothing to backfill") as caught:
        dw.backfill(
            f"{flows}:nightly",
            datetime(2026, 1, 1, 4, 0),
            datetime(2026, 1, 1, 23, 0),
            settings=settings,
        )
    assert "'0 3 * * *'" in str(caught.value)
    assert queued_rows(settings) == []


def test_backfill_a_pipeline_without_schedule_is_refused(settings, flows):
    with pytest.raises(dw.DefinitionError, match="'adhoc' has no schedule"):
        dw.backfill(f"{flows}:adhoc", date(2026, 1, 1), date(2026, 1, 2), settings=settings)


def test_backfill_params_override_the_schedule_params(settings, flows):
    done = dw.backfill(
        f"{flows}:nightly",
        date(2026, 1, 1),
        date(2026, 1, 2),
        params={"label": "redo"},
        settings=settings,
    )
    for run_id, _ in done.queued:
        assert dw.get_run(run_id, settings=settings).params == {"n": 2, "label": "redo"}


def test_backfill_with_bad_params_queues_nothing(settings, flows):
    with pytest.raises(dw.ParamError, match="has no param 'm'"):
        dw.backfill(
            f"{flows}:nightly",
            date(2026, 1, 1),
            date(2026, 1, 2),
            params={"m": 1},
            settings=settings,
        )
    assert queued_rows(settings) == []


def test_backfill_refuses_more_than_the_limit(settings, tmp_path):
    path = tmp_path / "every_second.py"
    path.write_text(
        "import dagwell as dw\n\n\n@dw.task\ndef one():\n    return 1\n\n\n"
        "@dw.pipeline(schedule=dw.every(seconds=1))\ndef often():\n    return one()\n"
    )
    with pytest.raises(dw.DefinitionError, match="more than 10000 times"):
        dw.backfill(str(path), date(2026, 1, 1), date(2026, 1, 2), settings=settings)
    assert queued_rows(settings) == []


# -- discovery -------------------------------------------------------------------------

GOOD = """
import dagwell as dw


@dw.task
def one() -> int:
    return 1


@dw.pipeline(schedule="@daily", timezone="Europe/Berlin")
def {first}():
    return one()


@dw.pipeline
def {second}(n: int):
    return one()
"""

BROKEN = {
    "b_syntax.py": "import dagwell as dw\n\n\n@dw.pipeline\ndef broken(:\n    pass\n",
    "c_import.py": "import dagwell as dw\nimport no_such_module_for_dagwell\n",
    "d_exits.py": "import sys\n\nsys.exit(3)\n",
    "e_cycle.py": textwrap.dedent(
        """
        import dagwell as dw


        @dw.task
        def a():
            return 1


        @dw.task
        def b():
            return 2


        @dw.pipeline
        def circular():
            first, second = a(), b()
            first >> second
            second >> first
        """
    ),
    "f_os_exit.py": "import os\n\nos._exit(1)\n",
    "g_bad_cron.py": (
        "import dagwell as dw\n\n\n@dw.pipeline(schedule='0 3 * *')\ndef bad():\n    pass\n"
    ),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Pipeline files: good ones around broken ones, so every kind is checked in the middle."""
    root = tmp_path / "pipelines"
    root.mkdir()
    (root / "a_good.py").write_text(GOOD.format(first="alpha", second="beta"))
    for name, text in BROKEN.items():
        (root / name).write_text(text)
    (root / "h_dup.py").write_text(GOOD.format(first="alpha", second="gamma"))
    (root / "nested").mkdir()
    (root / "nested" / "z_good.py").write_text(GOOD.format(first="delta", second="epsilon"))
    return root


def test_discover_reports_each_broken_file_and_finds_every_good_pipeline(folder):
    files = pipeline_files([folder])
    found = discover(files)
    assert sorted(found.pipelines) == ["alpha", "beta", "delta", "epsilon", "gamma"]
    assert found.pipelines["alpha"]["source"] == f"{folder / 'a_good.py'}:alpha"
    assert found.pipelines["delta"]["source"] == f"{folder / 'nested' / 'z_good.py'}:delta"
    errors = {Path(path).name: error for path, error in found.errors.items()}
    assert sorted(errors) == [
        "b_syntax.py",
        "c_import.py",
        "d_exits.py",
        "e_cycle.py",
        "f_os_exit.py",
        "g_bad_cron.py",
        "h_dup.py",
    ]
    assert "syntax error on line 5" in errors["b_syntax.py"]
    assert "ModuleNotFoundError" in errors["c_import.py"]
    assert "no_such_module_for_dagwell" in errors["c_import.py"]
    assert "sys.exit(3)" in errors["d_exits.py"]
    assert "pipeline 'circular'" in errors["e_cycle.py"]
    assert "cycle" in errors["e_cycle.py"]
    assert "killed the Python process (exit code 1)" in errors["f_os_exit.py"]
    assert "'0 3 * *'" in errors["g_bad_cron.py"]
    assert "'alpha' is already defined in" in errors["h_dup.py"]
    assert str(folder / "a_good.py") in errors["h_dup.py"]


def test_discover_describes_a_pipeline(folder):
    found = discover([str(folder / "a_good.py")])
    assert found.errors == {}
    alpha, beta = found.pipelines["alpha"], found.pipelines["beta"]
    assert alpha["schedule"] == "@daily"
    assert alpha["timezone"] == "Europe/Berlin"
    assert alpha["catchup"] is False
    assert beta["schedule"] is None
    assert beta["params"] == [{"name": "n", "type": "int", "default": None, "required": True}]


def test_pipeline_files_searches_folders_and_skips_hidden_and_dunder_folders(tmp_path):
    (tmp_path / "one.py").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.py").write_text("")
    (tmp_path / "sub" / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "three.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "four.py").write_text("")
    assert pipeline_files([tmp_path]) == [
        str((tmp_path / "one.py").resolve()),
        str((tmp_path / "sub" / "two.py").resolve()),
    ]
    assert pipeline_files([tmp_path / "sub" / "two.py", tmp_path / "sub"]) == [
        str((tmp_path / "sub" / "two.py").resolve())
    ]


def test_pipeline_files_refuses_a_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(dw.DefinitionError, match="no such pipeline file or folder") as caught:
        pipeline_files([missing])
    assert repr(str(missing)) in str(caught.value)


def test_registered_pipelines_after_a_scan_show_schedules_and_next_due(settings, flows):
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    Scheduler([str(flows)], settings=settings).scan(now, force=True)
    nightly = {p.name: p for p in dw.registered_pipelines(settings=settings)}["nightly"]
    assert nightly.schedule == "0 3 * * *"
    assert nightly.timezone == "Europe/Berlin"
    assert nightly.schedule_params == {"n": 2}
    assert nightly.next_due_at == datetime(2026, 1, 11, 2, tzinfo=UTC)
