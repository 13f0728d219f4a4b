"""Cancelling a run from any process: ``dw.cancel``, ``dagwell cancel`` and the web UI.

A queued run (one no scheduler has claimed yet) is cancelled at once and never starts. A
running run's runner is asked to cancel it: it reads the request with its next heartbeat
(every ``HEARTBEAT_SECONDS``, 2 s) and cancels the run as Ctrl-C does: running attempts
are stopped, open nodes are recorded cancelled, and so is the run, with the error
"cancelled by NAME". A running run whose runner is gone (its process died) is recorded
cancelled here, since nobody else would.
"""

from __future__ import annotations

import getpass
import time
from datetime import datetime
from typing import TYPE_CHECKING

from dagwell.core.records import AttemptEnd, Run
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.errors import DefinitionError, RunStateError
from dagwell.execution.attempt import now
from dagwell.execution.runs import get_run, runner_alive
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    from dagwell.storage.metadata.store import MetadataStore

WAIT_POLL_SECONDS = 0.5
"""How often :func:`wait_until_finished` reads the run's state."""


def cancel(run_id: str, *, by: str | None = None, settings: Settings | None = None) -> Run:
    """Cancel run ``run_id`` (or a unique prefix of it), from any process; return the run.

    A queued run is cancelled at once. A running one is stopped by its runner within a
    few seconds: the returned run is still ``running``, with ``cancel_requested_by`` set.
    ``by`` names who cancels it in the run's error ("cancelled by alice"); it defaults
    to the operating-system user. With the inline executor, a task that is running is not
    interrupted: the run is cancelled when it returns. Raises
    :class:`~dagwell.errors.NotFoundError` for an unknown run and
    :class:`~dagwell.errors.RunStateError` for one that already finished.

    >>> dw.cancel("3f2a9c").cancel_requested_by
    'alice'
    >>> dw.get_run("3f2a9c").status          # a few seconds later
    <RunState.CANCELLED: 'cancelled'>
    """
    return request_cancel(run_id, by=by or os_user(), settings=settings)


def request_cancel(run_id: str, *, by: str, settings: Settings | None = None) -> Run:
    """Cancel run ``run_id`` on behalf of ``by``, as :func:`cancel` does, and return it.

    What the web UI calls, naming the signed-in user. The returned run tells what
    happened: ``cancelled`` (it was queued, or its runner was gone), or ``running`` with
    ``cancel_requested_by`` set (its runner stops it within a few seconds; if someone
    asked earlier, their request stands and names them).

    >>> request_cancel("3f2a9c", by="alice", settings=settings).status
    <RunState.RUNNING: 'running'>
    """
    from dagwell.storage.metadata import cancel_requests

    if not by.strip():
        raise DefinitionError("say who cancels the run: `by` must not be empty")
    settings = settings or Settings.from_env()
    store = metadata_store(settings.db_url)
    found = store.get_run(run_id)
    at = now()
    changed = False
    if found.status is RunState.QUEUED:
        with store.transaction() as tx:
            changed = cancel_requests.cancel_queued(
                tx, found.id, by=by, at=at, error=f"cancelled by {by}"
            )
        if not changed:  # a scheduler claimed it meanwhile: its runner is asked below
            found = store.get_run(found.id)
    if found.status is RunState.RUNNING and not changed:
        if runner_alive(found):
            with store.transaction() as tx:
                changed = cancel_requests.request_cancel(tx, found.id, by=by, at=at)
        else:
            runner = found.runner or "unknown process"
            error = f"cancelled by {by} (its runner, {runner}, was gone)"
            changed = settle_cancelled(store, found, by=by, error=error, at=at)
    current = get_run(found.id, settings=settings)
    if not changed and current.status.is_finished:
        raise RunStateError(
            f"run {current.id} already finished ({current.status.value}); only a queued or "
            "running run can be cancelled"
        )
    return current


def settle_cancelled(
    store: MetadataStore, found: Run, *, by: str, error: str, at: datetime
) -> bool:
    """Record running ``found`` cancelled with ``error``, when no runner will: its running
    attempts and open nodes too, and give back its pool slots. Fenced on its runner: False
    (nothing written) if it stopped running or another process took it up since read."""
    from dagwell.storage.metadata.cancel_requests import cancel_running
    from dagwell.storage.metadata.pools import release_run

    ends = [
        AttemptEnd(task.node, a.number, AttemptState.CANCELLED, at, TaskState.CANCELLED, error)
        for task in found.tasks.values()
        for a in task.attempts
        if a.status == AttemptState.RUNNING
    ]
    attempted = {end.node for end in ends}
    open_nodes = [
        n for n, t in found.tasks.items() if not t.status.is_finished and n not in attempted
    ]
    with store.transaction() as tx:
        if not cancel_running(tx, found.id, runner=found.runner, by=by, at=at, error=error):
            return False
        store.record_attempts(tx, found.id, ends=ends)
        release_run(tx, found.id)
        store.set_task_status(tx, found.id, open_nodes, TaskState.CANCELLED, at=at, error=error)
    return True


def wait_until_finished(
    run_id: str, *, timeout: float | None = None, settings: Settings | None = None
) -> Run:
    """Wait until run ``run_id`` finished, at most ``timeout`` seconds; return it as last
    read (still unfinished if the time ran out).

    >>> wait_until_finished(run.id, timeout=30).status
    <RunState.CANCELLED: 'cancelled'>
    """
    settings = settings or Settings.from_env()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found = get_run(run_id, settings=settings)
        if found.status.is_finished:
            return found
        if deadline is not None and time.monotonic() >= deadline:
            return found
        pause = WAIT_POLL_SECONDS
        if deadline is not None:
            pause = min(pause, max(deadline - time.monotonic(), 0.0))
        time.sleep(pause)


def os_user() -> str:
    """The login name of this process's user: who cancels a run unless told otherwise."""
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (a container without a passwd entry)
        return "an unknown user"
