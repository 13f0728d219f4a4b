"""Alerts from real runs: dw.run with both executors, a real webhook receiver, real SQLite.

The pipelines and the receiver live in ``pipelines_for_alerts.py`` beside this file, so
that process-executor workers can import the task functions by name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pipelines_for_alerts as pa
import pytest

import dagwell as dw


@pytest.fixture(params=["inline", "process"])
def executor(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per executor."""
    return str(request.param)


def go(pipeline: dw.Pipeline, settings: dw.Settings, executor: str = "inline") -> dw.Run:
    return dw.run(pipeline, executor=executor, workers=2, settings=settings)


def kinds(bodies: list[dict[str, Any]]) -> list[tuple[str, str | None, int | None]]:
    return [(b["kind"], b["node"], b["attempt"]) for b in bodies]


def test_a_failing_task_sends_retry_and_failure_alerts_to_a_webhook(
    settings: dw.Settings, executor: str
) -> None:
    with pa.receiver() as got:
        run = go(pa.failing([dw.notify.webhook(got.url)]), settings, executor)

    assert run.status == "failed"
    assert kinds(got.bodies) == [
        ("retry", "boom", 1),
        ("failure", "boom", 2),
        ("failure", None, None),
    ]
    for body in got.bodies:
        assert (body["pipeline"], body["run_id"]) == ("failing", run.id)
        assert body["text"] == f"[dagwell] {body['summary']} (run {run.id}, alert {body['id']})"
    assert "ValueError: disk full" in got.bodies[1]["summary"]
    assert got.bodies[2]["summary"].endswith("task 'boom' failed: ValueError: disk full")
    assert got.headers[0]["Content-Type"] == "application/json"

    records = dw.list_alerts(run_id=run.id, settings=settings)
    assert [r.id for r in records][::-1] == [b["id"] for b in got.bodies]
    assert {r.delivered for r in records} == {"1/1"}
    assert records[0].deliveries[0].notifier == f"webhook {got.url.split('/hooks')[0]}/..."


def test_a_task_past_its_sla_raises_sla_miss_while_the_run_goes_on(
    settings: dw.Settings, executor: str
) -> None:
    with pa.receiver() as got:
        run = go(pa.slow([dw.notify.webhook(got.url)], sla=0.2, seconds=0.7), settings, executor)

    assert run.status == "succeeded"
    assert kinds(got.bodies) == [("sla_miss", "slow_step", None), ("success", None, None)]
    assert "task 'slow_step' missed its 0.2s SLA: still running after" in got.bodies[0]["summary"]
    raised = dt.datetime.fromisoformat(got.bodies[0]["created_at"])
    ended = run.tasks["slow_step"].ended_at
    assert ended is not None and raised < ended  # raised while the task still ran


def test_a_failed_fan_out_child_alerts_for_itself_only(
    settings: dw.Settings, executor: str
) -> None:
    with pa.receiver() as got:
        run = go(pa.fan_out([dw.notify.webhook(got.url)]), settings, executor)

    assert run.status == "failed"
    assert sorted(kinds(got.bodies)) == [
        ("failure", "check[1]", 1),
        ("success", "check[0]", 1),
        ("success", "check[2]", 1),
    ]
    [failure] = dw.list_alerts(run_id=run.id, kind="failure", settings=settings)
    assert failure.summary == (
        "pipeline 'fan_out': task 'check[1]' failed on attempt 1: ValueError: 2 is not allowed"
    )


def test_a_webhook_answering_500_is_tried_three_times_and_the_run_still_succeeds(
    settings: dw.Settings,
) -> None:
    with pa.receiver(status=500) as got:
        run = go(pa.succeeding([dw.notify.webhook(got.url)]), settings)

    assert run.status == "succeeded"
    assert kinds(got.bodies) == [("success", "step", 1)] * 3 + [("success", None, None)] * 3
    for record in dw.list_alerts(run_id=run.id, settings=settings):
        [delivery] = record.deliveries
        assert (delivery.ok, delivery.tries, record.delivered) == (False, 3, "0/1")
        assert delivery.error is not None and "answered HTTP 500" in delivery.error


def test_an_unreachable_notifier_leaves_a_failed_run_failed_and_others_delivered(
    settings: dw.Settings,
) -> None:
    received: list[dw.Alert] = []
    hooks = [dw.notify.webhook(f"http://127.0.0.1:{pa.closed_port()}/"), received.append]
    run = go(pa.failing_quietly(hooks), settings)

    assert run.status == "failed"
    assert run.error == "failed nodes: boom"
    assert [(a.kind, a.node) for a in received] == [(dw.AlertKind.FAILURE, None)]
    [record] = dw.list_alerts(run_id=run.id, settings=settings)
    assert [(d.ok, d.tries) for d in record.deliveries] == [(False, 3), (True, 1)]
    assert "unreachable" in (record.deliveries[0].error or "")


def test_a_pipeline_past_its_sla_raises_one_sla_miss_and_still_succeeds(
    settings: dw.Settings,
) -> None:
    received: list[dw.Alert] = []
    slow = pa.slow([], sla=5, seconds=0.4)
    pipeline = dw.pipeline(name="late", sla=0.1, on_sla_miss=received.append)(slow.fn)
    run = go(pipeline, settings)

    assert run.status == "succeeded"
    [alert] = received
    assert (alert.kind, alert.node, alert.run_id) == (dw.AlertKind.SLA_MISS, None, run.id)
    assert alert.summary.startswith("pipeline 'late' missed its 0.1s SLA: still running")
    assert [r.kind for r in dw.list_alerts(pipeline="late", settings=settings)] == ["sla_miss"]
