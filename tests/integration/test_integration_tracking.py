"""Params and metrics logged inside tasks reach the store through the runner."""

from __future__ import annotations

import pipelines_for_tests as p
import pytest

import dagwell as dw


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_logged_params_and_metrics_are_recorded_even_for_a_failed_attempt(
    settings: dw.Settings, executor: str
) -> None:
    run = dw.run(p.tracked, {"epochs": 3}, executor=executor, workers=2, settings=settings)

    assert run.params == {"epochs": 3}
    assert run.tasks["learn"].params == {"optimizer": "sgd", "epochs": 3}
    assert [(m.step, m.value) for m in run.metrics("loss")] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert run.metric("accuracy") == 0.9
    assert {m.node for m in run.metrics()} == {"learn", "learn_then_crash"}
    assert run.tasks["learn_then_crash"].status == "failed"
    assert run.metric("progress") == 0.5
    again = dw.get_run(run.id, settings=settings)
    assert again.metrics() == run.metrics()


def test_an_unknown_metric_names_the_ones_logged(settings: dw.Settings) -> None:
    run = dw.run(p.tracked, executor="inline", settings=settings)

    with pytest.raises(dw.NotFoundError, match="accuracy"):
        run.metric("acuracy")


def test_logging_outside_a_task_is_a_clear_error() -> None:
    with pytest.raises(dw.DagwellError, match="outside a running task"):
        dw.log_metric("loss", 0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dw.log_metric("loss", "high"), "must be a number"),
        (lambda: dw.log_metric("loss", True), "must be a number"),
        (lambda: dw.log_metric("loss", 1.0, step=1.5), "step"),
        (lambda: dw.log_metric("", 1.0), "non-empty"),
        (lambda: dw.log_param("model", object()), "JSON value"),
    ],
)
def test_bad_values_are_refused_with_a_message(call: object, message: str) -> None:
    from dagwell.core.context import TaskContext, task_context

    context = TaskContext(run_id="r", pipeline="p", node="n", attempt=1)
    with task_context(context), pytest.raises(dw.DefinitionError, match=message):
        call()  # type: ignore[operator]
