"""AlertHooks: which run events raise which alerts, SLAs, delivery, recording and listing.

Events are fed by hand, as the runner would send them, with a fake clock where time
matters; alerts go to recording callables and are read back from a real SQLite store.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import dagwell as dw
from dagwell.core.alerts import Alert, AlertKind
from dagwell.core.states import RunState, TaskState
from dagwell.execution.alerts import AlertHooks, alert_hooks, deliver, list_alerts, notifier_name
from dagwell.storage.metadata.alerts import record_alert
from dagwell.storage.shared import metadata_store

RUN = "abcdef123456"


class Recorder:
    """A hook that keeps what it receives (and may fail its first ``failures`` calls)."""

    def __init__(self, name: str = "recorder", failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.calls = 0
        self.alerts: list[Alert] = []
        self.threads: list[str] = []
        self.arrived = threading.Event()

    def __call__(self, alert: Alert) -> None:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        if self.calls <= self.failures:
            raise ConnectionError(f"down (call {self.calls})")
        self.alerts.append(alert)
        self.arrived.set()

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(a.kind.value, a.node) for a in self.alerts]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def one() -> int:
    return 1


def make(
    *,
    task: dict[str, Any] | None = None,
    pipe: dict[str, Any] | None = None,
    mapped: bool = False,
) -> dw.Pipeline:
    """A pipeline ``p`` with a task ``fit`` (options ``task``), mapped over a list if asked."""
    items = dw.task(name="items")(lambda: [1, 2])
    fit = dw.task(name="fit", **(task or {}))(lambda *args: 1)

    def body() -> None:
        if mapped:
            fit.map(items())
        else:
            fit()

    return dw.pipeline(name="p", **(pipe or {}))(body)


def hooks_for(
    pipeline: dw.Pipeline,
    settings: dw.Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> AlertHooks:
    return AlertHooks(
        pipeline,
        pipeline.build({}),
        metadata_store(settings.db_url),
        clock=clock,
        retry_delays=(0.0, 0.0),
        drain_timeout=5.0,
        **options,
    )


def start(hooks: AlertHooks) -> None:
    hooks.run_started(run_id=RUN, pipeline="p", nodes=list(hooks.tasks))


def change(hooks: AlertHooks, node: str, status: TaskState, attempt: int = 1, **kw: Any) -> None:
    hooks.task_changed(run_id=RUN, node=node, status=status, attempt=attempt, **kw)


def finish(hooks: AlertHooks, status: RunState = RunState.SUCCEEDED, **kw: Any) -> None:
    hooks.run_finished(run_id=RUN, status=status, **kw)


# -- which pipelines get alert hooks ---------------------------------------------------------


def test_no_alert_hooks_when_neither_pipeline_nor_tasks_ask(settings: dw.Settings) -> None:
    pipeline = make()
    store = metadata_store(settings.db_url)

    assert alert_hooks(pipeline, pipeline.build({}), store) is None


@pytest.mark.parametrize(
    ("task", "pipe"),
    [({"sla": 5}, {}), ({"on_success": print}, {}), ({}, {"on_retry": print}), ({}, {"sla": 1})],
)
def test_alert_hooks_when_a_task_or_the_pipeline_asks(
    settings: dw.Settings, task: dict[str, Any], pipe: dict[str, Any]
) -> None:
    pipeline = make(task=task, pipe=pipe)
    store = metadata_store(settings.db_url)

    assert isinstance(alert_hooks(pipeline, pipeline.build({}), store), AlertHooks)


# -- task and pipeline events ----------------------------------------------------------------


def test_a_final_failure_alerts_the_task_hooks_with_context(settings: dw.Settings) -> None:
    got = Recorder()
    hooks = hooks_for(make(task={"retries": 2, "on_failure": got}), settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING, 3)
    change(hooks, "fit", TaskState.FAILED, 3, error="ValueError: bad C\nmore detail")
    finish(hooks, RunState.FAILED, error="failed nodes: fit")

    [alert] = got.alerts
    assert (alert.kind, alert.pipeline, alert.run_id, alert.node, alert.attempt) == (
        AlertKind.FAILURE,
        "p",
        RUN,
        "fit",
        3,
    )
    assert alert.summary == "pipeline 'p': task 'fit' failed on attempt 3: ValueError: bad C"
    assert alert.error == "ValueError: bad C\nmore detail"
    assert len(alert.id) == 10 and alert.id.isalnum()
    assert got.threads == ["dagwell-alerts"]  # never on the run loop's thread


def test_each_retry_alerts_task_and_pipeline_hooks_once_each(settings: dw.Settings) -> None:
    task_hook, both = Recorder("task"), Recorder("both")
    pipeline = make(task={"retries": 2, "on_retry": [task_hook, both]}, pipe={"on_retry": both})
    hooks = hooks_for(pipeline, settings)
    start(hooks)
    for attempt in (1, 2):
        change(hooks, "fit", TaskState.RUNNING, attempt)
        change(hooks, "fit", TaskState.RETRYING, attempt, error="OSError: flaky")
    change(hooks, "fit", TaskState.RUNNING, 3)
    change(hooks, "fit", TaskState.SUCCEEDED, 3)
    finish(hooks)

    assert [a.attempt for a in task_hook.alerts] == [1, 2]
    assert [a.attempt for a in both.alerts] == [1, 2]  # the same hook twice sends once
    assert task_hook.alerts[0].summary == (
        "pipeline 'p': task 'fit' failed on attempt 1 and will be retried: OSError: flaky"
    )
    [record] = list_alerts(run_id=RUN, kind="retry", limit=1, settings=settings)
    assert [d.notifier for d in record.deliveries] == ["task", "both"]


def test_success_alerts_on_succeeded_but_not_on_cached_or_reused(settings: dw.Settings) -> None:
    got = Recorder()
    hooks = hooks_for(make(task={"on_success": got}, mapped=True), settings)
    start(hooks)
    change(hooks, "items", TaskState.CACHED, 0)
    change(hooks, "fit", TaskState.RUNNING, 0)
    hooks.nodes_added(run_id=RUN, nodes=["fit[0]", "fit[1]"])
    change(hooks, "fit[0]", TaskState.REUSED, 0)
    change(hooks, "fit[1]", TaskState.RUNNING, 1)
    change(hooks, "fit[1]", TaskState.SUCCEEDED, 1)
    change(hooks, "fit", TaskState.SUCCEEDED, 0)
    finish(hooks)

    assert got.kinds() == [("success", "fit[1]")]


def test_fan_out_children_alert_with_the_parent_task_hooks_but_the_parent_does_not(
    settings: dw.Settings,
) -> None:
    got = Recorder()
    hooks = hooks_for(make(task={"on_failure": got}, mapped=True), settings)
    start(hooks)
    change(hooks, "items", TaskState.RUNNING)
    change(hooks, "items", TaskState.SUCCEEDED)
    change(hooks, "fit", TaskState.RUNNING, 0)
    hooks.nodes_added(run_id=RUN, nodes=["fit[0]", "fit[1]"])
    change(hooks, "fit[1]", TaskState.RUNNING)
    change(hooks, "fit[1]", TaskState.FAILED, error="KeyError: 2")
    change(hooks, "fit", TaskState.FAILED, 0, error="1 of 2 mapped calls failed")
    finish(hooks, RunState.FAILED)

    assert got.kinds() == [("failure", "fit[1]")]


def test_a_node_that_never_ran_raises_no_task_alert(settings: dw.Settings) -> None:
    got = Recorder()
    hooks = hooks_for(make(task={"on_failure": got, "on_success": got}), settings)
    start(hooks)
    change(hooks, "fit", TaskState.UPSTREAM_FAILED, 0, error="upstream node 'x' failed")
    finish(hooks, RunState.FAILED)

    assert got.alerts == []


def test_pipeline_failure_names_the_failed_node_and_its_error(settings: dw.Settings) -> None:
    got = Recorder()
    hooks = hooks_for(make(pipe={"on_failure": got, "on_success": got}), settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    change(hooks, "fit", TaskState.FAILED, error="ValueError: bad C")
    finish(hooks, RunState.FAILED, error="failed nodes: fit")

    [alert] = got.alerts
    assert (alert.kind, alert.node, alert.attempt) == (AlertKind.FAILURE, None, None)
    assert alert.summary.startswith("pipeline 'p' failed after ")
    assert alert.summary.endswith(": task 'fit' failed: ValueError: bad C")
    assert alert.error == "fit: ValueError: bad C"


def test_pipeline_failure_lists_several_failed_nodes(settings: dw.Settings) -> None:
    got = Recorder()
    hooks = hooks_for(make(pipe={"on_failure": got}, mapped=True), settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING, 0)
    hooks.nodes_added(run_id=RUN, nodes=["fit[0]", "fit[1]"])
    for child in ("fit[0]", "fit[1]"):
        change(hooks, child, TaskState.RUNNING)
        change(hooks, child, TaskState.FAILED, error="KeyError: 1")
    change(hooks, "fit", TaskState.FAILED, 0, error="2 of 2 mapped calls failed")
    finish(hooks, RunState.FAILED)

    assert got.alerts[0].summary.endswith("3 tasks failed: fit[0], fit[1], fit")


def test_pipeline_success_alerts_and_a_cancelled_run_does_not(settings: dw.Settings) -> None:
    got = Recorder()
    pipeline = make(pipe={"on_success": got, "on_failure": got})
    succeeded, cancelled = hooks_for(pipeline, settings), hooks_for(pipeline, settings)
    start(succeeded)
    finish(succeeded)
    start(cancelled)
    finish(cancelled, RunState.CANCELLED, error="cancelled")

    assert [(a.kind, a.node) for a in got.alerts] == [(AlertKind.SUCCESS, None)]
    assert got.alerts[0].summary.startswith("pipeline 'p' succeeded in ")


# -- SLAs ------------------------------------------------------------------------------------


def test_task_sla_miss_is_raised_once_while_it_runs_and_covers_retries(
    settings: dw.Settings,
) -> None:
    clock, task_hook, pipe_hook = FakeClock(), Recorder("task"), Recorder("pipe")
    pipeline = make(
        task={"sla": 5, "retries": 1, "on_sla_miss": task_hook}, pipe={"on_sla_miss": pipe_hook}
    )
    hooks = hooks_for(pipeline, settings, clock=clock)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING, 1)
    clock.now += 3
    change(hooks, "fit", TaskState.RETRYING, 1, error="OSError: flaky")
    change(hooks, "fit", TaskState.RUNNING, 2)  # the SLA still runs from the first start
    clock.now += 2.5
    hooks.raise_sla_misses()
    hooks.raise_sla_misses()
    clock.now += 10
    change(hooks, "fit", TaskState.SUCCEEDED, 2)
    finish(hooks)

    [alert] = task_hook.alerts
    assert (alert.kind, alert.node, alert.attempt) == (AlertKind.SLA_MISS, "fit", None)
    assert alert.summary == "pipeline 'p': task 'fit' missed its 5.0s SLA: still running after 5.5s"
    assert pipe_hook.kinds() == [("sla_miss", "fit")]


def test_a_task_that_ends_past_its_sla_before_the_watcher_noticed_still_misses_it(
    settings: dw.Settings,
) -> None:
    clock, got = FakeClock(), Recorder()
    hooks = hooks_for(make(task={"sla": 5, "on_sla_miss": got}), settings, clock=clock)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    clock.now += 7
    change(hooks, "fit", TaskState.FAILED, error="ValueError: x")
    finish(hooks, RunState.FAILED)

    assert [a.summary for a in got.alerts] == [
        "pipeline 'p': task 'fit' missed its 5.0s SLA: took 7.0s"
    ]


def test_a_task_within_its_sla_raises_nothing(settings: dw.Settings) -> None:
    clock, got = FakeClock(), Recorder()
    hooks = hooks_for(make(task={"sla": 5, "on_sla_miss": got}), settings, clock=clock)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    clock.now += 4
    change(hooks, "fit", TaskState.SUCCEEDED)
    clock.now += 10
    hooks.raise_sla_misses()
    finish(hooks)

    assert got.alerts == []
    assert list_alerts(run_id=RUN, settings=settings) == []


def test_pipeline_sla_runs_from_the_scheduled_time_when_given(settings: dw.Settings) -> None:
    got = Recorder()
    scheduled = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    pipeline = make(pipe={"sla": dt.timedelta(minutes=5), "on_sla_miss": got})
    hooks = hooks_for(pipeline, settings, clock=FakeClock(), scheduled_for=scheduled)
    start(hooks)
    hooks.raise_sla_misses()
    finish(hooks)

    [alert] = got.alerts
    assert (alert.kind, alert.node, alert.scheduled_for) == (AlertKind.SLA_MISS, None, scheduled)
    assert alert.summary.startswith("pipeline 'p' missed its 5m SLA: still running 10m")
    assert alert.summary.endswith("after it was scheduled")


def test_pipeline_sla_runs_from_the_start_otherwise_and_a_late_end_misses_it(
    settings: dw.Settings,
) -> None:
    clock, got = FakeClock(), Recorder()
    hooks = hooks_for(make(pipe={"sla": 60, "on_sla_miss": got}), settings, clock=clock)
    start(hooks)
    clock.now += 90
    finish(hooks)

    [alert] = got.alerts
    assert alert.summary == "pipeline 'p' missed its 1m SLA: finished 1m 30s after it started"


def test_an_sla_miss_is_recorded_even_with_no_hook_to_tell(settings: dw.Settings) -> None:
    clock = FakeClock()
    hooks = hooks_for(make(task={"sla": 1}), settings, clock=clock)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    clock.now += 2
    change(hooks, "fit", TaskState.SUCCEEDED)
    finish(hooks)

    [record] = list_alerts(run_id=RUN, settings=settings)
    assert (record.kind, record.node, record.deliveries, record.delivered) == (
        AlertKind.SLA_MISS,
        "fit",
        (),
        "0/0",
    )


def test_the_watcher_raises_a_miss_in_real_time_while_the_task_runs(
    settings: dw.Settings,
) -> None:
    got = Recorder()
    hooks = hooks_for(make(task={"sla": 0.05, "on_sla_miss": got}), settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)

    assert got.arrived.wait(5), "no sla_miss while the task was still running"
    change(hooks, "fit", TaskState.SUCCEEDED)
    finish(hooks)
    assert got.kinds() == [("sla_miss", "fit")]
    assert not hooks.watcher.is_alive() and not hooks.outbox.thread.is_alive()


# -- delivery ----------------------------------------------------------------------------------


def test_a_run_taken_over_delivers_what_was_raised_and_leaves_no_thread_behind(
    settings: dw.Settings,
) -> None:
    """Another process resumed the run: this one stops following it, raising nothing more."""
    got = Recorder()
    pipeline = make(task={"sla": 3600, "retries": 1, "on_retry": got, "on_sla_miss": got})
    hooks = hooks_for(pipeline, settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING, 1)
    change(hooks, "fit", TaskState.RETRYING, 1, error="OSError: flaky")
    assert hooks.watcher.is_alive()

    hooks.abandon()

    assert got.kinds() == [("retry", "fit")]
    assert not hooks.watcher.is_alive()
    senders = [hooks.outbox.thread, *(lane.thread for lane in hooks.outbox.lanes.values())]
    assert len(senders) == 2 and not any(t.is_alive() for t in senders)


def test_a_failing_hook_is_tried_three_times_logged_and_recorded_as_failed(
    settings: dw.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    broken, flaky, fine = Recorder("broken", failures=99), Recorder("flaky", 1), Recorder("fine")
    hooks = hooks_for(make(task={"on_failure": [broken, flaky, fine]}), settings)
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    change(hooks, "fit", TaskState.FAILED, error="ValueError: x")
    finish(hooks, RunState.FAILED)

    assert (broken.calls, flaky.calls, fine.calls) == (3, 2, 1)
    [record] = list_alerts(run_id=RUN, settings=settings)
    assert [(d.notifier, d.ok, d.tries, d.error) for d in record.deliveries] == [
        ("broken", False, 3, "ConnectionError: down (call 3)"),
        ("flaky", True, 2, None),
        ("fine", True, 1, None),
    ]
    assert record.delivered == "2/3"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "not delivered by broken after 3 tries" in warning.getMessage()


def test_the_run_loop_never_waits_for_a_slow_hook_and_the_end_waits_only_so_long(
    settings: dw.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    hooks = hooks_for(make(task={"on_failure": lambda alert: release.wait(10)}), settings)
    hooks.drain_timeout = 0.1
    start(hooks)
    change(hooks, "fit", TaskState.RUNNING)
    began = time.monotonic()
    change(hooks, "fit", TaskState.FAILED, error="ValueError: x")
    assert time.monotonic() - began < 2  # not the 10 s the hook takes
    finish(hooks, RunState.FAILED)
    took = time.monotonic() - began
    release.set()

    assert took < 3
    assert "still being delivered" in caplog.text
    hooks.outbox.thread.join(5)


def test_deliver_waits_the_given_delays_between_tries() -> None:
    waits: list[float] = []
    alert = Alert("id", AlertKind.RETRY, "p", RUN, "fit", 1, "s", dt.datetime.now(dt.timezone.utc))

    delivery = deliver(alert, Recorder(failures=5), (0.2, 0.5), sleep=waits.append)

    assert waits == [0.2, 0.5]
    assert (delivery.ok, delivery.tries) == (False, 3)


def test_notifier_name_is_the_notifier_name_or_the_function_path() -> None:
    assert notifier_name(dw.notify.log()) == "log WARNING"
    assert notifier_name(one) == f"{__name__}.one"
    assert notifier_name(Recorder("mine")) == "mine"


# -- listing ---------------------------------------------------------------------------------


def add(settings: dw.Settings, id: str, kind: AlertKind, run: str, minutes: int) -> None:
    at = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes)
    alert = Alert(id, kind, "p" if run < "b" else "q", run, None, None, f"alert {id}", at)
    with metadata_store(settings.db_url).transaction() as tx:
        record_alert(tx, alert, [])


def test_list_alerts_filters_and_orders_newest_first(settings: dw.Settings) -> None:
    add(settings, "a1", AlertKind.FAILURE, "aaaa11112222", 0)
    add(settings, "a2", AlertKind.RETRY, "aaaa11112222", 1)
    add(settings, "b1", AlertKind.FAILURE, "bbbb11112222", 2)

    def ids(**filters: Any) -> list[str]:
        return [a.id for a in list_alerts(settings=settings, **filters)]

    assert ids() == ["b1", "a2", "a1"]
    assert ids(kind="FAILURE") == ["b1", "a1"]
    assert ids(run_id="aaaa") == ["a2", "a1"]
    assert ids(run_id="aaaa11112222", kind=AlertKind.RETRY) == ["a2"]
    assert ids(pipeline="q") == ["b1"]
    assert ids(since=dt.datetime(2024, 5, 1, 9, 1, tzinfo=dt.timezone.utc)) == ["b1", "a2"]
    assert ids(limit=1) == ["b1"]


def test_list_alerts_refuses_an_unknown_kind_listing_the_valid_ones(
    settings: dw.Settings,
) -> None:
    with pytest.raises(dw.DefinitionError, match="failure, retry, success, sla_miss"):
        list_alerts(kind="oops", settings=settings)


def test_a_hanging_receiver_holds_up_neither_other_notifiers_nor_the_record(
    settings: dw.Settings,
) -> None:
    """Each alert is recorded before delivery; each notifier has a lane of its own."""
    release = threading.Event()
    fine = Recorder("fine")

    def hangs(alert: Alert) -> None:
        release.wait(10)

    hooks = hooks_for(
        make(task={"retries": 3, "on_retry": hangs}, pipe={"on_failure": fine}), settings
    )
    hooks.drain_timeout = 0.5
    start(hooks)
    for attempt in (1, 2, 3):
        change(hooks, "fit", TaskState.RUNNING, attempt)
        change(hooks, "fit", TaskState.RETRYING, attempt, error="ValueError: x")
    change(hooks, "fit", TaskState.RUNNING, 4)
    change(hooks, "fit", TaskState.FAILED, 4, error="ValueError: x")
    finish(hooks, RunState.FAILED, error="failed nodes: fit")
    try:
        recorded = list_alerts(run_id=RUN, settings=settings)
    finally:
        release.set()

    assert sorted(r.kind.value for r in recorded) == ["failure", "retry", "retry", "retry"]
    [failure] = [r for r in recorded if r.kind is AlertKind.FAILURE]
    assert failure.delivered == "1/1" and fine.kinds() == [("failure", None)]
    pending = [r for r in recorded if r.kind is AlertKind.RETRY and r.deliveries[0].tries == 0]
    assert pending, "a retry alert still being delivered is recorded as pending"
