"""Tests for the scheduling and alert options of ``@dw.pipeline`` and ``@dw.task``.

Options are checked when the pipeline or task is defined, so a mistake fails at load time
with a message naming the pipeline and the offending value.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import dagwell as dw
from dagwell.core.schedules import Every, Schedule
from dagwell.errors import DefinitionError, ParamError


@dw.task
def step(n: int = 1) -> int:
    return n


def page(alert: dw.Alert) -> None:
    """An alert hook: any callable taking one alert."""


def email(alert: dw.Alert) -> None:
    """Another alert hook."""


# -- schedule, timezone, start, catchup, params ----------------------------------------


def test_a_pipeline_without_schedule_has_none():
    @dw.pipeline
    def adhoc():
        step()

    assert adhoc.schedule is None
    assert adhoc.max_active_runs == 16  # as Airflow's default
    assert adhoc.sla is None
    assert adhoc.on_failure == ()


def test_cron_schedule_text_is_stored_with_defaults():
    @dw.pipeline(schedule="0 3 * * *")
    def nightly():
        step()

    assert nightly.schedule == Schedule("0 3 * * *")
    assert nightly.schedule.text == "0 3 * * *"
    assert nightly.schedule.timezone == "UTC"
    assert nightly.schedule.start is None
    assert nightly.schedule.catchup is False
    assert nightly.schedule.params == {}


@pytest.mark.parametrize("text", ["@daily", "@hourly", "@weekly", "*/5 * * * *"])
def test_cron_aliases_and_steps_are_accepted(text):
    @dw.pipeline(schedule=text)
    def job():
        step()

    assert job.schedule.text == text


def test_every_schedule_is_stored_as_an_interval():
    @dw.pipeline(schedule=dw.every(seconds=30))
    def poll():
        step()

    assert poll.schedule.spec == Every(30.0)
    assert poll.schedule.text == "every 30s"


def test_every_text_schedule_is_read_as_an_interval():
    @dw.pipeline(schedule="every 2h")
    def refresh():
        step()

    assert refresh.schedule.spec == dw.every(hours=2)


def test_timezone_start_catchup_and_params_are_stored_on_the_schedule():
    start = datetime(2026, 1, 1, 3, tzinfo=timezone.utc)

    @dw.pipeline(
        schedule="0 3 * * *",
        timezone="Europe/Berlin",
        start=start,
        catchup=True,
        params={"n": 5},
    )
    def nightly(n: int = 1):
        step(n)

    assert nightly.schedule == Schedule(
        "0 3 * * *", timezone="Europe/Berlin", start=start, catchup=True, params={"n": 5}
    )


def test_a_naive_start_is_read_in_the_pipeline_timezone():
    @dw.pipeline(schedule="@daily", timezone="America/New_York", start=datetime(2026, 2, 1))
    def nightly():
        step()

    assert nightly.schedule.start == datetime(2026, 2, 1, tzinfo=ZoneInfo("America/New_York"))


def test_max_active_runs_is_stored():
    @dw.pipeline(schedule="@hourly", max_active_runs=3)
    def hourly():
        step()

    assert hourly.max_active_runs == 3


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2", None])
def test_max_active_runs_must_be_a_positive_int(value):
    with pytest.raises(DefinitionError, match="max_active_runs must be an int >= 1") as caught:

        @dw.pipeline(name="limited", max_active_runs=value)
        def limited():
            step()

    assert "'limited'" in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"start": datetime(2026, 1, 1, tzinfo=timezone.utc)},
        {"catchup": True},
        {"params": {"n": 2}},
    ],
    ids=["start", "catchup", "params"],
)
def test_scheduled_run_options_without_a_schedule_are_refused(options):
    with pytest.raises(DefinitionError, match="give a schedule= too") as caught:

        @dw.pipeline(**options)
        def unscheduled(n: int = 1):
            step(n)

    assert "'unscheduled'" in str(caught.value)


def test_invalid_cron_fails_at_definition_naming_the_pipeline_and_the_text():
    with pytest.raises(DefinitionError) as caught:

        @dw.pipeline(schedule="0 3 * * * * * *")
        def nightly():
            step()

    message = str(caught.value)
    assert "pipeline 'nightly'" in message
    assert "'0 3 * * * * * *'" in message


def test_unknown_timezone_fails_at_definition_naming_the_pipeline_and_the_zone():
    with pytest.raises(DefinitionError) as caught:

        @dw.pipeline(schedule="@daily", timezone="Europe/Atlantis")
        def nightly():
            step()

    message = str(caught.value)
    assert "pipeline 'nightly'" in message
    assert "unknown timezone 'Europe/Atlantis'" in message


def test_every_with_zero_fails_at_definition():
    with pytest.raises(DefinitionError, match="positive interval"):
        dw.pipeline(schedule=dw.every(minutes=0))


def test_a_schedule_of_the_wrong_type_fails_at_definition():
    with pytest.raises(DefinitionError, match=r"pipeline 'poll'.*schedule must be cron text"):

        @dw.pipeline(schedule=30)
        def poll():
            step()


def test_schedule_params_fill_required_params():
    @dw.pipeline(schedule="@daily", params={"n": 4})
    def nightly(n: int):
        step(n)

    assert nightly.bind(nightly.schedule.params) == {"n": 4}


def test_a_scheduled_pipeline_needs_values_for_its_required_params():
    with pytest.raises(ParamError, match="needs a value for param 'n'") as caught:

        @dw.pipeline(schedule="@daily")
        def nightly(n: int):
            step(n)

    assert "@dw.pipeline(params={...})" in str(caught.value)


def test_an_unknown_schedule_param_is_refused_at_definition():
    with pytest.raises(ParamError, match=r"has no param 'fold'. Did you mean 'folds'"):

        @dw.pipeline(schedule="@daily", params={"fold": 4})
        def nightly(folds: int = 1):
            step(folds)


def test_a_mistyped_schedule_param_is_refused_at_definition():
    with pytest.raises(ParamError, match="param 'n' of pipeline 'nightly' expects int"):

        @dw.pipeline(schedule="@daily", params={"n": "four"})
        def nightly(n: int = 1):
            step(n)


def test_an_unscheduled_pipeline_may_have_required_params():
    @dw.pipeline
    def adhoc(n: int):
        step(n)

    assert [p.name for p in adhoc.params if p.required] == ["n"]


# -- sla and alert hooks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90.0), (2.5, 2.5), (timedelta(minutes=5), 300.0)]
)
def test_pipeline_sla_in_seconds_or_a_timedelta(value, seconds):
    @dw.pipeline(sla=value)
    def timed():
        step()

    assert timed.sla == seconds


@pytest.mark.parametrize("value", [0, -5, "60", True, timedelta(0)])
def test_pipeline_sla_must_be_positive(value):
    with pytest.raises(DefinitionError, match="pipeline 'timed': sla must be a positive"):

        @dw.pipeline(sla=value)
        def timed():
            step()


@pytest.mark.parametrize("option", ["on_failure", "on_retry", "on_success", "on_sla_miss"])
def test_pipeline_hooks_take_a_callable_or_a_list(option):
    @dw.pipeline(**{option: page})
    def one():
        step()

    @dw.pipeline(**{option: [page, email]})
    def two():
        step()

    assert getattr(one, option) == (page,)
    assert getattr(two, option) == (page, email)


def test_a_non_callable_pipeline_hook_is_refused_with_a_clear_message():
    with pytest.raises(DefinitionError) as caught:

        @dw.pipeline(on_failure="https://hooks.example.com/T0")
        def nightly():
            step()

    message = str(caught.value)
    assert "pipeline 'nightly'" in message
    assert "on_failure takes a callable" in message
    assert "'https://hooks.example.com/T0'" in message


def test_a_non_callable_in_a_list_of_hooks_is_refused():
    with pytest.raises(DefinitionError, match=r"on_success takes a callable.*got int 3"):

        @dw.pipeline(on_success=[page, 3])
        def nightly():
            step()


def test_an_unknown_hook_option_is_refused():
    with pytest.raises(DefinitionError, match="unexpected option 'on_fail'"):
        dw.pipeline(on_fail=page)


# -- task options ----------------------------------------------------------------------


def test_task_pool_sla_and_hooks_are_stored():
    @dw.task(pool="gpu", sla=timedelta(seconds=30), on_failure=page, on_retry=[page, email])
    def train():
        return 1

    assert train.pool == "gpu"
    assert train.sla == 30.0
    assert train.on_failure == (page,)
    assert train.on_retry == (page, email)
    assert train.on_success == ()
    assert train.on_sla_miss == ()


def test_task_defaults_have_no_pool_sla_or_hooks():
    assert step.pool is None
    assert step.sla is None
    assert step.on_failure == ()


@pytest.mark.parametrize("pool", ["bad pool", "", 3, "gpu/1"])
def test_task_pool_must_be_a_pool_name(pool):
    with pytest.raises(DefinitionError, match="task 'train': pool must be a pool name"):

        @dw.task(pool=pool)
        def train():
            return 1


@pytest.mark.parametrize("value", [0, -1, "10", False])
def test_task_sla_must_be_positive(value):
    with pytest.raises(DefinitionError, match="task 'train': sla must be a positive"):

        @dw.task(sla=value)
        def train():
            return 1


def test_a_non_callable_task_hook_is_refused_with_a_clear_message():
    with pytest.raises(DefinitionError) as caught:

        @dw.task(on_failure="page me")
        def train():
            return 1

    message = str(caught.value)
    assert "task 'train'" in message
    assert "on_failure takes a callable" in message
    assert "'page me'" in message
