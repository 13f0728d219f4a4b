"""Tests for dagwell.core.states: the transition tables and the final run state."""

from __future__ import annotations

import itertools

import pytest

from dagwell.core.states import (
    AttemptState,
    InvalidTransition,
    RunState,
    TaskState,
    check_run_transition,
    check_task_transition,
    run_state_for,
)

T = TaskState
R = RunState

# Written out by hand, so that a change to the table in states.py must be made here too.
ALLOWED_TASK = {
    (T.PENDING, T.RUNNING),
    (T.PENDING, T.CACHED),
    (T.PENDING, T.REUSED),
    (T.PENDING, T.SKIPPED),
    (T.PENDING, T.FAILED),
    (T.PENDING, T.UPSTREAM_FAILED),
    (T.PENDING, T.CANCELLED),
    (T.RUNNING, T.SUCCEEDED),
    (T.RUNNING, T.FAILED),
    (T.RUNNING, T.RETRYING),
    (T.RUNNING, T.CANCELLED),
    (T.RETRYING, T.RUNNING),
    (T.RETRYING, T.CANCELLED),
}
ALLOWED_RUN = {
    (R.QUEUED, R.RUNNING),
    (R.QUEUED, R.CANCELLED),
    (R.RUNNING, R.SUCCEEDED),
    (R.RUNNING, R.FAILED),
    (R.RUNNING, R.CANCELLED),
}
FINISHED_TASK = {
    T.SUCCEEDED,
    T.FAILED,
    T.CACHED,
    T.REUSED,
    T.SKIPPED,
    T.UPSTREAM_FAILED,
    T.CANCELLED,
}
ALL_TASK_PAIRS = list(itertools.product(TaskState, TaskState))
ALL_RUN_PAIRS = list(itertools.product(RunState, RunState))


def pair_id(pair: tuple[TaskState | RunState, TaskState | RunState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


@pytest.mark.parametrize("pair", ALL_TASK_PAIRS, ids=[pair_id(p) for p in ALL_TASK_PAIRS])
def test_task_transition_is_allowed_exactly_when_the_table_says(pair):
    current, new = pair
    if pair in ALLOWED_TASK:
        assert check_task_transition(current, new) is new
    else:
        with pytest.raises(InvalidTransition) as info:
            check_task_transition(current, new)
        assert str(info.value) == f"task cannot go from {current.value} to {new.value}"


@pytest.mark.parametrize("pair", ALL_RUN_PAIRS, ids=[pair_id(p) for p in ALL_RUN_PAIRS])
def test_run_transition_is_allowed_exactly_when_the_table_says(pair):
    current, new = pair
    if pair in ALLOWED_RUN:
        assert check_run_transition(current, new) is new
    else:
        with pytest.raises(InvalidTransition, match=f"run cannot go from {current.value} to"):
            check_run_transition(current, new)


def test_finished_task_states_are_the_expected_ones():
    assert {s for s in TaskState if s.is_finished} == FINISHED_TASK
    assert {s for s in TaskState if s.is_success} == {T.SUCCEEDED, T.CACHED, T.REUSED}


def test_finished_run_states_are_the_expected_ones():
    assert {s for s in RunState if s.is_finished} == {R.SUCCEEDED, R.FAILED, R.CANCELLED}


@pytest.mark.parametrize("state", sorted(FINISHED_TASK))
def test_a_finished_task_state_has_no_exits(state):
    for new in TaskState:
        with pytest.raises(InvalidTransition):
            check_task_transition(state, new)


@pytest.mark.parametrize("state", [R.SUCCEEDED, R.FAILED, R.CANCELLED])
def test_a_finished_run_state_has_no_exits(state):
    for new in RunState:
        with pytest.raises(InvalidTransition):
            check_run_transition(state, new)


def reachable(start: TaskState) -> set[TaskState]:
    seen, frontier = {start}, [start]
    while frontier:
        current = frontier.pop()
        for new in TaskState:
            try:
                check_task_transition(current, new)
            except InvalidTransition:
                continue
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    return seen


@pytest.mark.parametrize("start", list(TaskState))
def test_every_task_state_can_reach_a_finished_state(start):
    """No node can get stuck: the runner always has a way to finish it."""
    assert reachable(start) & FINISHED_TASK


def test_a_pending_task_can_end_in_every_finished_state():
    assert reachable(T.PENDING) >= FINISHED_TASK


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([T.SUCCEEDED, T.SUCCEEDED], R.SUCCEEDED),
        ([T.SUCCEEDED, T.CACHED, T.REUSED], R.SUCCEEDED),
        ([T.SUCCEEDED, T.SKIPPED], R.SUCCEEDED),
        ([], R.SUCCEEDED),
        ([T.SUCCEEDED, T.FAILED], R.FAILED),
        ([T.FAILED, T.UPSTREAM_FAILED], R.FAILED),
        ([T.SUCCEEDED, T.UPSTREAM_FAILED], R.FAILED),
        ([T.SUCCEEDED, T.CANCELLED], R.CANCELLED),
        ([T.FAILED, T.CANCELLED], R.CANCELLED),  # a cancelled run reports cancelled
    ],
)
def test_run_state_for_the_final_task_states(states, expected):
    assert run_state_for(states) is expected


def test_states_compare_equal_to_their_lowercase_names():
    assert TaskState.FAILED == "failed"
    assert TaskState.UPSTREAM_FAILED == "upstream_failed"
    assert RunState.SUCCEEDED == "succeeded"
    assert AttemptState.CANCELLED == "cancelled"
    assert TaskState.FAILED != "FAILED"
    assert all(s == s.name.lower() for s in [*TaskState, *RunState, *AttemptState])


def test_states_print_and_parse_as_their_lowercase_names():
    assert str(TaskState.RETRYING) == "retrying"
    assert f"{RunState.QUEUED}" == "queued"
    assert TaskState("cached") is TaskState.CACHED
    assert RunState("running") is RunState.RUNNING
