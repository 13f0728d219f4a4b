"""OpenLineageHooks: which run events become which OpenLineage events, sent in the
background; here with a client that keeps what it is given."""

from __future__ import annotations

from typing import Any

import pytest

from dagwell.core.states import RunState, TaskState
from dagwell.execution.openlineage import OpenLineageHooks, run_uuid

pytest.importorskip("openlineage.client")


class Keeper:
    """An OpenLineage client that keeps the events it is asked to send."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


def hooks_with(keeper: Keeper) -> OpenLineageHooks:
    return OpenLineageHooks("unused", datasets={"a": []}, artifacts_url="/tmp/art", client=keeper)


def sent(keeper: Keeper) -> list[tuple[str, str]]:
    return [(event.eventType.value, event.job.name) for event in keeper.events]


def test_a_run_sends_start_and_complete_for_itself_and_its_task() -> None:
    keeper = Keeper()
    hooks = hooks_with(keeper)
    hooks.run_started(run_id="r1", pipeline="p", nodes=["a"])
    hooks.task_changed(run_id="r1", node="a", status=TaskState.RUNNING, attempt=1)
    hooks.task_changed(run_id="r1", node="a", status=TaskState.SUCCEEDED, attempt=1)
    hooks.run_finished(run_id="r1", status=RunState.SUCCEEDED)

    assert sent(keeper) == [
        ("START", "p"),
        ("START", "p.a"),
        ("COMPLETE", "p.a"),
        ("COMPLETE", "p"),
    ]
    assert keeper.events[0].run.runId == run_uuid("r1")
    assert not hooks.sender.is_alive()


def test_a_run_taken_over_sends_what_was_queued_and_does_not_end_the_run() -> None:
    """Its new runner, in another process, sends the run's end."""
    keeper = Keeper()
    hooks = hooks_with(keeper)
    hooks.run_started(run_id="r1", pipeline="p", nodes=["a"])
    hooks.task_changed(run_id="r1", node="a", status=TaskState.RUNNING, attempt=1)

    hooks.abandon()

    assert sent(keeper) == [("START", "p"), ("START", "p.a")]
    assert not hooks.sender.is_alive()
