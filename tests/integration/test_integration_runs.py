"""dw.run end to end in-process: real SQLite, a real local artifact store, real executors.

The pipelines live in ``pipelines_for_tests.py`` beside this file, so that process-executor
workers can import them by name.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pipelines_for_tests as p
import pytest

import dagwell as dw

EXECUTORS = ["inline", "process"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per executor."""
    return str(request.param)


def go(
    pipeline: dw.Pipeline,
    params: dict[str, Any] | None = None,
    *,
    settings: dw.Settings,
    executor: str = "inline",
) -> dw.Run:
    return dw.run(pipeline, params, executor=executor, workers=2, settings=settings)


def statuses(run: dw.Run) -> dict[str, str]:
    return {node: task.status.value for node, task in run.tasks.items()}


# -- a successful run ---------------------------------------------------------------------


def test_successful_run_records_params_outputs_and_result(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.basic, {"n": 5}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert run.pipeline == "basic"
    assert dict(run.params) == {"n": 5, "factor": 2.0}
    assert set(run.tasks) == {"numbers", "split", "total", "total-1", "total-2", "scale"}
    for task in run.tasks.values():
        assert task.status == "succeeded", task.node
        assert [a.number for a in task.attempts] == [1]
        assert task.attempts[0].status == "succeeded"
    assert run.output("numbers") == [1, 2, 3, 4, 5]
    assert run.output("split", "evens") == [2, 4]
    assert run.output("split", "odds") == [1, 3, 5]
    assert run.output("scale") == 30.0
    assert run.result() == {"evens": 6, "odds": 9, "scaled": 30.0}


def test_node_with_several_outputs_needs_a_name(settings: dw.Settings) -> None:
    run = go(p.basic, settings=settings)

    with pytest.raises(dw.NotFoundError, match="several outputs"):
        run.output("split")
    with pytest.raises(dw.NotFoundError, match="no output 'nope'"):
        run.output("split", "nope")


def test_get_run_by_id_and_by_prefix_return_the_recorded_run(settings: dw.Settings) -> None:
    run = go(p.basic, {"n": 2}, settings=settings)

    by_id = dw.get_run(run.id, settings=settings)
    by_prefix = dw.get_run(run.id[:6], settings=settings)

    assert by_id == run
    assert by_prefix == run
    assert by_prefix.result() == run.result()
    with pytest.raises(dw.NotFoundError):
        dw.get_run("ffffffffffff", settings=settings)


def test_list_runs_filters_by_pipeline_status_and_limit(settings: dw.Settings) -> None:
    first = go(p.basic, {"n": 1}, settings=settings)
    second = go(p.basic, {"n": 2}, settings=settings)
    failed = go(p.one_branch_fails, settings=settings)

    def ids(**filters: Any) -> list[str]:
        return [r.id for r in dw.list_runs(settings=settings, **filters)]

    assert ids() == [failed.id, second.id, first.id]
    assert ids(pipeline="basic") == [second.id, first.id]
    assert ids(status="failed") == [failed.id]
    assert ids(status="succeeded", limit=1) == [second.id]
    assert ids(pipeline="basic", status="failed") == []
    assert ids(pipeline="no_such_pipeline") == []
    listed = dw.list_runs(pipeline="basic", limit=1, settings=settings)[0]
    assert set(listed.tasks) == set(second.tasks)


# -- fan-out ------------------------------------------------------------------------------


def test_static_fan_out_numbers_repeated_calls(settings: dw.Settings, executor: str) -> None:
    run = go(p.static_fanout, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert [run.output(n) for n in ("square", "square-1", "square-2")] == [4, 9, 16]
    assert run.result() == [4, 9, 16]


def test_dynamic_map_expands_one_node_per_item_and_gathers_a_list(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.dynamic_fanout, {"n": 4}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    children = [f"square[{i}]" for i in range(4)]
    assert set(children) <= set(run.tasks)
    assert [run.output(c) for c in children] == [1, 4, 9, 16]
    assert all(run.tasks[c].status == "succeeded" for c in children)
    assert run.output("square") == [1, 4, 9, 16]
    assert run.output("collect") == [1, 4, 9, 16]


def test_dynamic_map_over_an_empty_list_gathers_an_empty_list(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.dynamic_fanout, {"n": 0}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert not any(node.startswith("square[") for node in run.tasks)
    assert run.tasks["square"].status == "succeeded"
    assert run.result() == []


def test_dynamic_map_over_a_non_list_fails_the_node_with_a_clear_error(
    settings: dw.Settings,
) -> None:
    run = go(p.map_over_scalar, {"value": 7}, settings=settings)

    assert run.status == "failed"
    assert run.tasks["square"].status == "failed"
    error = run.tasks["square"].error or ""
    assert "needs a list" in error
    assert "'just'" in error
    assert "int" in error
    assert run.tasks["collect"].status == "upstream_failed"


# -- failures -----------------------------------------------------------------------------


def test_failed_node_blocks_its_downstream_but_not_independent_branches(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.one_branch_fails, settings=settings, executor=executor)

    assert run.status == "failed"
    assert statuses(run) == {
        "numbers": "succeeded",
        "total": "succeeded",
        "fail_loudly": "failed",
        "after_failure": "upstream_failed",
        "collect": "succeeded",
    }
    assert "fail_loudly" in (run.error or "")
    assert "fail_loudly" in (run.tasks["after_failure"].error or "")
    [attempt] = run.tasks["fail_loudly"].attempts
    assert attempt.status == "failed"
    assert attempt.error == "ValueError: boom on 6"
    assert attempt.traceback is not None
    assert "Traceback (most recent call last)" in attempt.traceback
    assert "in fail_loudly" in attempt.traceback
    assert "execution/attempt.py" not in attempt.traceback, "only the task's own frames"
    assert attempt.log_path is not None
    log = Path(attempt.log_path).read_text()
    assert "about to fail on 6" in log
    assert "Traceback (most recent call last)" in log
    assert "ValueError: boom on 6" in log
    assert log.index("about to fail on 6") < log.index("ValueError: boom on 6")


def test_task_that_fails_twice_succeeds_on_its_third_attempt(
    settings: dw.Settings, executor: str, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"

    run = go(p.flaky_then_fine, {"counter": str(counter)}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert run.result() == 3
    task = run.tasks["fails_twice"]
    assert task.status == "succeeded"
    assert [(a.number, a.status.value) for a in task.attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert task.attempts[0].error == "RuntimeError: failure number 1"
    assert task.attempts[1].error == "RuntimeError: failure number 2"
    logs = {a.log_path for a in task.attempts}
    assert len(logs) == 3, "each attempt has its own log"
    assert counter.read_text() == "3"


def test_retry_delay_grows_with_backoff(settings: dw.Settings, executor: str) -> None:
    run = go(p.delayed_retries, settings=settings, executor=executor)

    task = run.tasks["always_fails"]
    assert task.status == "failed"
    assert run.status == "failed"
    starts = [a.started_at for a in task.attempts]
    assert len(starts) == 3
    assert all(s is not None for s in starts)
    delay, backoff = p.always_fails.retry_delay, p.always_fails.retry_backoff
    assert (starts[1] - starts[0]).total_seconds() >= delay
    assert (starts[2] - starts[1]).total_seconds() >= delay * backoff


# -- process executor only ----------------------------------------------------------------


def test_timeout_kills_the_attempt_and_the_run_goes_on(
    settings: dw.Settings, tmp_path: Path
) -> None:
    """After the kill, two tasks that must run at once need a replacement worker."""
    run = go(p.times_out, {"folder": str(tmp_path)}, settings=settings, executor="process")

    assert run.status == "failed"
    assert statuses(run) == {
        "oversleeps": "failed",
        "pause": "succeeded",
        "meet_task": "succeeded",
        "meet_task-1": "succeeded",
    }
    [attempt] = run.tasks["oversleeps"].attempts
    assert "timeout" in (attempt.error or "").lower()
    assert "TaskTimeoutError" in (attempt.error or "")
    assert attempt.ended_at is not None and attempt.started_at is not None
    assert (attempt.ended_at - attempt.started_at).total_seconds() < 30


def test_worker_that_dies_fails_the_attempt_and_the_retry_succeeds(
    settings: dw.Settings, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"

    run = go(p.worker_dies, {"counter": str(counter)}, settings=settings, executor="process")

    assert run.status == "succeeded"
    assert run.result() == "survived"
    first, second = run.tasks["dies_first_time"].attempts
    assert first.status == "failed"
    assert "WorkerDiedError" in (first.error or "")
    assert "exit code 1" in (first.error or "")
    assert second.status == "succeeded"


def test_process_executor_runs_tasks_in_parallel(settings: dw.Settings, tmp_path: Path) -> None:
    run = go(p.parallel_meeting, {"folder": str(tmp_path)}, settings=settings, executor="process")

    assert statuses(run) == {"meet_task": "succeeded", "meet_task-1": "succeeded"}


# -- logs ---------------------------------------------------------------------------------


def test_stdout_stderr_logging_and_shell_output_land_in_the_attempt_log(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.noisy, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert run.output("shout") == "shell says hi"
    chatty_log = Path(run.tasks["chatty"].attempts[0].log_path or "").read_text()
    assert "to stdout" in chatty_log
    assert "to stderr" in chatty_log
    assert re.search(r"INFO pipelines_for_tests: through logging", chatty_log)
    shout_log = Path(run.tasks["shout"].attempts[0].log_path or "").read_text()
    assert "shell says hi" in shout_log
    if executor == "process":  # inline captures Python streams only, not the fds (by design)
        assert "shell complains hi" in shout_log


# -- artifacts ----------------------------------------------------------------------------


def test_numpy_pandas_and_sklearn_outputs_round_trip(settings: dw.Settings, executor: str) -> None:
    numpy = pytest.importorskip("numpy")
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")

    run = go(p.artifacts, {"n": 6}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    serializers = {n: t.outputs["return"].serializer for n, t in run.tasks.items()}
    assert serializers == {"make_array": "npy", "make_frame": "parquet", "fit_model": "pickle"}
    array = run.output("make_array")
    assert isinstance(array, numpy.ndarray)
    numpy.testing.assert_array_equal(array, numpy.arange(6, dtype="float64").reshape(-1, 2))
    frame = run.output("make_frame")
    pandas.testing.assert_frame_equal(frame, p.make_frame(6))
    model = run.output("fit_model")
    assert type(model).__name__ == "LinearRegression"
    assert model.predict(pandas.DataFrame({"x": [10]}))[0] == pytest.approx(5.0)


def test_equal_outputs_of_two_runs_share_one_stored_object(settings: dw.Settings) -> None:
    pytest.importorskip("sklearn")
    first = go(p.artifacts, {"n": 6}, settings=settings)
    second = go(p.artifacts, {"n": 6}, settings=settings)
    other = go(p.artifacts, {"n": 8}, settings=settings)

    def hash_of(run: dw.Run) -> str:
        return run.tasks["make_array"].outputs["return"].hash

    assert hash_of(first) == hash_of(second)
    assert hash_of(first) != hash_of(other)
    objects = [f for f in Path(settings.artifacts_url, "objects").rglob("*") if f.is_file()]
    stored = [f.parent.name + f.name for f in objects]
    assert stored.count(hash_of(first)) == 1
    assert stored.count(hash_of(other)) == 1


def test_unserializable_output_fails_its_node_naming_node_and_type(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.unserializable, settings=settings, executor=executor)

    assert run.status == "failed"
    task = run.tasks["make_generator"]
    assert task.status == "failed"
    error = task.error or ""
    assert "SerializationError" in error
    assert "'make_generator'" in error
    assert "generator" in error.replace("'make_generator'", "")
    assert not task.outputs


# -- validation before anything is recorded -----------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "params", "error", "message"),
    [
        (p.cyclic, None, dw.CycleError, r"cycle: .*numbers.*total"),
        (p.basic, {"m": 3}, dw.ParamError, r"no param 'm'"),
        (p.basic, {"n": "abc"}, dw.ParamError, r"param 'n' .* expects int"),
        (p.basic, {"n": True}, dw.ParamError, r"param 'n' .* expects int"),
    ],
    ids=["cycle", "unknown-param", "str-for-int", "bool-for-int"],
)
def test_bad_definitions_fail_before_anything_is_recorded(
    settings: dw.Settings,
    pipeline: dw.Pipeline,
    params: dict[str, Any] | None,
    error: type[dw.DefinitionError],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        dw.run(pipeline, params, executor="process", workers=2, settings=settings)

    assert dw.list_runs(settings=settings) == []
    assert not settings.logs_dir.exists()


# -- ordering and the task context --------------------------------------------------------


def test_rshift_starts_the_right_side_after_the_left_side_ended(
    settings: dw.Settings, executor: str
) -> None:
    run = go(p.ordered, {"seconds": 0.3}, settings=settings, executor=executor)

    assert run.status == "succeeded"
    assert run.tasks["tell"].upstream == ("pause",)
    left_end = run.tasks["pause"].attempts[-1].ended_at
    right_start = run.tasks["tell"].attempts[0].started_at
    assert left_end is not None and right_start is not None
    assert right_start >= left_end


def test_current_inside_a_task_describes_the_attempt(settings: dw.Settings, executor: str) -> None:
    run = go(p.ordered, {"seconds": 0.0}, settings=settings, executor=executor)

    assert run.output("tell") == {
        "run_id": run.id,
        "pipeline": "ordered",
        "node": "tell",
        "attempt": 1,
        "attempt_key": f"{run.id}:tell:1",
        "params": {"seconds": 0.0},
    }


def test_current_outside_a_task_raises() -> None:
    with pytest.raises(dw.DagwellError, match="outside a running task"):
        dw.current()
    with pytest.raises(dw.DagwellError):
        p.tell()  # calling a task directly runs the function, with no run context


def test_an_attempt_queued_behind_another_records_when_it_really_started(
    settings: dw.Settings,
) -> None:
    """The runner queues one attempt ahead per worker; its recorded start is the real one."""
    run = dw.run(
        p.two_pauses, params={"seconds": 0.5}, executor="process", workers=1, settings=settings
    )

    first, second = run.tasks["pause"], run.tasks["pause-1"]
    assert run.status == "succeeded"
    assert second.started_at is not None and first.ended_at is not None
    assert second.started_at >= first.ended_at - timedelta(milliseconds=50)
    assert second.attempts[0].started_at == second.started_at
    assert second.duration is not None and second.duration < 0.5 + 0.4
