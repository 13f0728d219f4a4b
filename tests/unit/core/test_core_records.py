"""Tests for dagwell.core.records: reading outputs and results back from a recorded Run."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from dagwell.core.records import Attempt, Run, TaskRun
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import DEFAULT_OUTPUT, GATHER, REF_MARKER, StoredValue
from dagwell.errors import NotFoundError

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def stored(hash_: str, *, inline=None, is_inline=False, length=None) -> StoredValue:
    return StoredValue(
        hash=hash_,
        serializer="json" if is_inline else "pickle",
        size=10,
        type_name="list" if length is not None else "int",
        is_inline=is_inline,
        inline=inline,
        length=length,
    )


def loaded(value: StoredValue) -> str:
    return f"loaded:{value.hash}"


def make_run(loader=loaded, result_spec=None) -> Run:
    fit = TaskRun(
        node="fit",
        task="fit",
        status=TaskState.SUCCEEDED,
        started_at=START,
        ended_at=START + timedelta(seconds=2.5),
        attempts=(
            Attempt(
                number=1,
                status=AttemptState.FAILED,
                started_at=START,
                ended_at=START + timedelta(seconds=1),
                error="ValueError: boom",
                traceback="Traceback ...",
                log_path="logs/fit/1.log",
            ),
            Attempt(
                number=2,
                status=AttemptState.SUCCEEDED,
                started_at=START + timedelta(seconds=1),
                ended_at=START + timedelta(seconds=2.5),
            ),
        ),
        outputs={DEFAULT_OUTPUT: stored("h-fit")},
        upstream=("split",),
    )
    split = TaskRun(
        node="split",
        task="split",
        status=TaskState.SUCCEEDED,
        outputs={"train": stored("h-train", length=3), "test": stored("h-test")},
    )
    report = TaskRun(node="report", task="report", status=TaskState.UPSTREAM_FAILED)
    return Run(
        id="run-1",
        pipeline="churn",
        status=RunState.SUCCEEDED,
        params={"C": 0.5, "folds": 3},
        started_at=START,
        ended_at=START + timedelta(minutes=1),
        tasks={"split": split, "fit": fit, "report": report},
        result_spec=result_spec,
        loader=loader,
    )


# --- Run.output ---------------------------------------------------------------------------


def test_output_of_a_node_with_one_output_needs_no_name():
    run = make_run()
    assert run.output("fit") == "loaded:h-fit"
    assert run.output("fit", DEFAULT_OUTPUT) == "loaded:h-fit"


def test_output_of_a_node_with_several_outputs_by_name():
    run = make_run()
    assert run.output("split", "train") == "loaded:h-train"
    assert run.output("split", "test") == "loaded:h-test"


def test_output_of_a_node_with_several_outputs_needs_a_name():
    with pytest.raises(NotFoundError) as info:
        make_run().output("split")
    message = str(info.value)
    assert "several outputs (train, test)" in message
    assert "run.output('split', 'train')" in message


def test_output_with_an_unknown_name_lists_the_outputs():
    with pytest.raises(NotFoundError, match="no output 'valid'; its outputs are: train, test"):
        make_run().output("split", "valid")


def test_output_of_an_unknown_node_lists_the_nodes():
    with pytest.raises(NotFoundError, match="has no node 'fti'; its nodes are: split, fit, report"):
        make_run().output("fti")


def test_output_of_a_node_without_outputs_says_its_status():
    with pytest.raises(NotFoundError, match="no stored outputs \\(status upstream_failed\\)"):
        make_run().output("report")


def test_not_found_errors_are_lookup_errors():
    with pytest.raises(LookupError):
        make_run().output("nope")


def test_output_without_a_loader_returns_inline_values():
    run = make_run(loader=None)
    inline = TaskRun(
        node="count",
        task="count",
        status=TaskState.SUCCEEDED,
        outputs={DEFAULT_OUTPUT: stored("h-count", inline=[1, 2], is_inline=True)},
    )
    run = replace(run, tasks={**run.tasks, "count": inline})
    assert run.output("count") == [1, 2]
    with pytest.raises(NotFoundError, match="without an artifact store"):
        run.output("fit")


# --- Run.result ---------------------------------------------------------------------------


def marker(node: str, output: str = DEFAULT_OUTPUT) -> dict:
    return {REF_MARKER: [node, output]}


def test_result_resolves_ref_markers_nested_in_dicts_and_lists():
    spec = {
        "model": marker("fit"),
        "splits": [marker("split", "train"), {"test": marker("split", "test")}],
        "note": "done",
        "count": 3,
    }
    assert make_run(result_spec=spec).result() == {
        "model": "loaded:h-fit",
        "splits": ["loaded:h-train", {"test": "loaded:h-test"}],
        "note": "done",
        "count": 3,
    }


def test_result_that_is_a_single_ref():
    assert make_run(result_spec=marker("split", "test")).result() == "loaded:h-test"


def test_result_without_refs_is_returned_as_is():
    assert make_run(result_spec=None).result() is None
    assert make_run(result_spec=[1, "a", {"b": None}]).result() == [1, "a", {"b": None}]


def test_result_naming_a_missing_node_raises_not_found():
    with pytest.raises(NotFoundError, match="no node 'gone'"):
        make_run(result_spec=[marker("gone")]).result()


# --- Run.result_is_inline -----------------------------------------------------------------


def gathered(*items: StoredValue) -> StoredValue:
    """A dynamic fan-out's output: its children's descriptors, held inline."""
    return StoredValue(
        hash="h-gathered",
        serializer=GATHER,
        size=sum(i.size for i in items),
        type_name="list",
        is_inline=True,
        inline=[i.to_json() for i in items],
        length=len(items),
    )


def with_outputs(**outputs: StoredValue) -> Run:
    """make_run() plus one node per keyword, whose single output is that value."""
    run = make_run()
    extra = {
        node: TaskRun(node=node, task=node, status=TaskState.SUCCEEDED, outputs={"return": v})
        for node, v in outputs.items()
    }
    return replace(run, tasks={**run.tasks, **extra})


def test_result_is_inline_when_every_ref_is_held_inline():
    run = with_outputs(total=stored("h-total", inline=14, is_inline=True))
    spec = {"total": marker("total"), "again": [marker("total")], "note": "x"}
    assert replace(run, result_spec=spec).result_is_inline()


def test_result_is_not_inline_when_any_ref_lives_in_the_artifact_store():
    run = with_outputs(total=stored("h-total", inline=14, is_inline=True))
    spec = {"total": marker("total"), "model": marker("fit")}
    assert not replace(run, result_spec=spec).result_is_inline()


def test_result_without_refs_is_inline():
    assert make_run(result_spec=None).result_is_inline()
    assert make_run(result_spec={"a": [1, "b"]}).result_is_inline()


def test_result_naming_a_missing_output_is_not_inline():
    assert not make_run(result_spec=marker("gone")).result_is_inline()
    assert not make_run(result_spec=marker("report")).result_is_inline()
    assert not make_run(result_spec=marker("split", "valid")).result_is_inline()


def test_a_gathered_fan_out_is_inline_only_when_every_child_is():
    small = stored("h-a", inline=1, is_inline=True)
    large = stored("h-b")
    run = with_outputs(small=gathered(small, small), mixed=gathered(small, large))

    assert replace(run, result_spec=marker("small")).result_is_inline()
    assert not replace(run, result_spec=marker("mixed")).result_is_inline()
    assert gathered().is_fully_inline
    assert not gathered(gathered(large)).is_fully_inline


# --- to_dict ------------------------------------------------------------------------------


def test_run_to_dict_shape():
    data = make_run().to_dict()
    assert list(data) == [
        "id",
        "pipeline",
        "status",
        "params",
        "started_at",
        "ended_at",
        "duration",
        "error",
        "code_hash",
        "trigger",
        "scheduled_for",
        "parent_run_id",
        "cancel_requested_by",
        "cancel_requested_at",
        "environment",
        "tasks",
        "metrics",
    ]
    assert data["status"] == "succeeded"
    assert data["params"] == {"C": 0.5, "folds": 3}
    assert data["started_at"] == "2026-01-02T03:04:05+00:00"
    assert data["duration"] == 60.0
    assert [t["node"] for t in data["tasks"]] == ["split", "fit", "report"]
    assert json.loads(json.dumps(data)) == data  # JSON-able as it stands


def test_run_to_dict_without_tasks():
    data = make_run().to_dict(with_tasks=False)
    assert "tasks" not in data
    assert data["id"] == "run-1"


def test_task_run_to_dict_shape():
    data = make_run().tasks["fit"].to_dict()
    assert data == {
        "node": "fit",
        "task": "fit",
        "status": "succeeded",
        "started_at": "2026-01-02T03:04:05+00:00",
        "ended_at": "2026-01-02T03:04:07.500000+00:00",
        "duration": 2.5,
        "upstream": ["split"],
        "map_parent": None,
        "error": None,
        "attempts": [
            {
                "number": 1,
                "status": "failed",
                "started_at": "2026-01-02T03:04:05+00:00",
                "ended_at": "2026-01-02T03:04:06+00:00",
                "error": "ValueError: boom",
                "traceback": "Traceback ...",
                "log_path": "logs/fit/1.log",
            },
            {
                "number": 2,
                "status": "succeeded",
                "started_at": "2026-01-02T03:04:06+00:00",
                "ended_at": "2026-01-02T03:04:07.500000+00:00",
                "error": None,
                "traceback": None,
                "log_path": None,
            },
        ],
        "outputs": {"return": {"hash": "h-fit", "serializer": "pickle", "size": 10, "type": "int"}},
        "params": {},
    }


def test_unfinished_task_run_has_no_duration():
    data = make_run().tasks["report"].to_dict()
    assert (data["started_at"], data["ended_at"], data["duration"]) == (None, None, None)
    assert data["attempts"] == []


def test_stored_value_json_keeps_inline_values_and_lengths():
    inline = stored("h", inline={"a": [1]}, is_inline=True)
    listed = stored("h2", length=3)
    assert inline.to_json()["inline"] == {"a": [1]}
    assert "inline" not in listed.to_json()
    assert listed.to_json()["length"] == 3
    for value in (inline, listed, stored("h3", inline=None, is_inline=True)):
        assert StoredValue.from_json(json.loads(json.dumps(value.to_json()))) == value
