"""Crash recovery: a daemon-started run whose runner died is settled and resumed.

A run counts as dead when its runner process is gone (same host: by pid) or its heartbeat
is stale. Its running attempts are recorded failed (they were lost), the run is recorded
failed, and a resume run is queued in the same transaction: it reuses every output the dead
run recorded and, per each task's retry policy, runs the lost nodes again (a lost attempt
counts as a failed one). Outputs are never recorded twice: attempts are fenced.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from dagwell.core.records import AttemptEnd, Run
from dagwell.core.states import AttemptState, TaskState
from dagwell.execution.runs import new_run_id, runner_alive
from dagwell.storage.metadata.pools import release_run
from dagwell.storage.metadata.queue import daemon_runs, end_running, queue_run, recovery_key
from dagwell.storage.metadata.store import MetadataStore

log = logging.getLogger(__name__)

MAX_RECOVERIES = 3
"""How many times in a row a run is resumed after its runner died before giving up."""


def recover_dead_runs(
    store: MetadataStore, *, at: datetime, own: Collection[str] = (), stale_after: float = 60.0
) -> list[tuple[str, str | None]]:
    """Settle every dead daemon-started run and queue its resume.

    ``own`` are runs this daemon's children are executing right now (never dead). Returns
    ``(dead run, resume run or None when given up)`` pairs.

    >>> recover_dead_runs(store, at=now)
    [('3f2a9c1d0e7b', '91be0c2f44a1')]
    """
    with store.reading() as conn:
        candidates = [run_id for run_id in daemon_runs(conn) if run_id not in own]
    recovered = []
    for run_id in candidates:
        found = store.get_run(run_id)
        if runner_alive(found, stale_after=stale_after):
            continue
        settled, successor = _settle_and_resume(store, found, at)
        if settled:
            recovered.append((found.id, successor))
    return recovered


def attempts_used(dead: Run) -> dict[str, int]:
    """Attempts each unfinished node of ``dead`` used, lost ones included."""
    return {
        node: len(task.attempts)
        for node, task in dead.tasks.items()
        if not task.status.is_success and task.attempts
    }


def _settle_and_resume(store: MetadataStore, dead: Run, at: datetime) -> tuple[bool, str | None]:
    """Settle ``dead``; return whether this call did it, and the id of its resume run."""
    depth = _recoveries_before(store, dead)
    successor = new_run_id() if depth < MAX_RECOVERIES else None
    runner = dead.runner or "unknown process"
    error = (
        f"its runner ({runner}) died; resumed as run {successor}"
        if successor
        else f"its runner ({runner}) died; not resumed after {depth} recoveries in a row"
    )
    lost = [
        AttemptEnd(
            task.node,
            attempt.number,
            AttemptState.FAILED,
            at,
            TaskState.FAILED,
            error=f"lost: its runner ({runner}) died",
        )
        for task in dead.tasks.values()
        for attempt in task.attempts
        if attempt.status == AttemptState.RUNNING
    ]
    with store.transaction() as tx:
        if not end_running(tx, dead.id, error=error, at=at, runner=dead.runner):
            return False, None  # another daemon settled it first
        store.record_attempts(tx, dead.id, ends=lost)
        release_run(tx, dead.id)  # its pool slots
        lost_nodes = {end.node for end in lost}
        unrun = [
            n for n, t in dead.tasks.items() if not t.status.is_finished and n not in lost_nodes
        ]
        store.set_task_status(
            tx, dead.id, unrun, TaskState.CANCELLED, at=at, error="not run: its runner died"
        )
        if successor is not None and dead.source is not None:
            queue_run(
                tx,
                run_id=successor,
                pipeline=dead.pipeline,
                params=dict(dead.params),
                source=dead.source,
                trigger="resume",
                created_at=at,
                scheduled_for=dead.scheduled_for,
                key=recovery_key(dead.id),
                parent_run_id=dead.id,
            )
    log.warning("run %s lost its runner (%s): %s", dead.id, runner, error)
    return True, successor


def _recoveries_before(store: MetadataStore, dead: Run) -> int:
    depth, current = 0, dead
    while current.trigger == "resume" and current.parent_run_id and depth < MAX_RECOVERIES:
        depth += 1
        current = store.get_run(current.parent_run_id)
    return depth
