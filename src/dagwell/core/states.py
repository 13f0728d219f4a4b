"""Run and task states, and the allowed transitions between them as one table.

The runner asks :func:`check_task_transition` before every change and the store records the
result, so "how does a task get from pending to succeeded" has one answer, here.
"""

from __future__ import annotations

import enum


class TaskState(str, enum.Enum):
    """The state of one node inside a run. Compares equal to its lowercase name."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"
    CACHED = "cached"
    REUSED = "reused"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """True when the node will not change state again in this run."""
        return self in TASK_FINISHED

    @property
    def is_success(self) -> bool:
        """True when the node has usable outputs."""
        return self in TASK_SUCCESS


class RunState(str, enum.Enum):
    """The state of a whole run. Compares equal to its lowercase name."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """True when the run will not change state again."""
        return self in RUN_FINISHED


class AttemptState(str, enum.Enum):
    """The state of one try of a node."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


TASK_SUCCESS = frozenset({TaskState.SUCCEEDED, TaskState.CACHED, TaskState.REUSED})
TASK_FINISHED = TASK_SUCCESS | {
    TaskState.FAILED,
    TaskState.SKIPPED,
    TaskState.UPSTREAM_FAILED,
    TaskState.CANCELLED,
}
RUN_FINISHED = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})

_T = TaskState
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # PENDING -> FAILED: a node that may not start (its last attempt was lost).
    _T.PENDING: frozenset(
        {_T.RUNNING, _T.CACHED, _T.REUSED, _T.SKIPPED, _T.FAILED, _T.UPSTREAM_FAILED, _T.CANCELLED}
    ),
    _T.RUNNING: frozenset({_T.SUCCEEDED, _T.FAILED, _T.RETRYING, _T.CANCELLED}),
    _T.RETRYING: frozenset({_T.RUNNING, _T.CANCELLED}),
    _T.SUCCEEDED: frozenset(),
    _T.FAILED: frozenset(),
    _T.CACHED: frozenset(),
    _T.REUSED: frozenset(),
    _T.SKIPPED: frozenset(),
    _T.UPSTREAM_FAILED: frozenset(),
    _T.CANCELLED: frozenset(),
}

_R = RunState
RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    _R.QUEUED: frozenset({_R.RUNNING, _R.CANCELLED}),
    _R.RUNNING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.CANCELLED}),
    _R.SUCCEEDED: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELLED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A state change the tables do not allow; always a bug in dagwell, never user error."""


def check_task_transition(current: TaskState, new: TaskState) -> TaskState:
    """Return ``new`` if a node may go from ``current`` to ``new``, else raise.

    >>> check_task_transition(TaskState.PENDING, TaskState.RUNNING)
    <TaskState.RUNNING: 'running'>
    """
    if new not in TASK_TRANSITIONS[current]:
        raise InvalidTransition(f"task cannot go from {current.value} to {new.value}")
    return new


def check_run_transition(current: RunState, new: RunState) -> RunState:
    """Return ``new`` if a run may go from ``current`` to ``new``, else raise."""
    if new not in RUN_TRANSITIONS[current]:
        raise InvalidTransition(f"run cannot go from {current.value} to {new.value}")
    return new


def run_state_for(task_states: list[TaskState]) -> RunState:
    """The final state of a run whose nodes all finished in ``task_states``."""
    if any(s is TaskState.CANCELLED for s in task_states):
        return RunState.CANCELLED
    if all(s.is_success or s is TaskState.SKIPPED for s in task_states):
        return RunState.SUCCEEDED
    return RunState.FAILED
