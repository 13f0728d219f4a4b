"""Cancel requests on runs: a queued run cancelled at once, a running one asked to stop.

Another process (``dagwell cancel``, the web UI) cannot stop a run's attempts itself; it
records who asked and when on the run's row, and the run's runner reads that back with
each heartbeat (:meth:`MetadataStore.heartbeat`) and cancels the run as Ctrl-C would. A
queued run has no runner yet: it is cancelled right here, and the queue's claims, which
only take ``queued`` runs, never start it. Every write is one fenced UPDATE, so a request
racing a claim, a runner's end or a crash recovery changes the row at most once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, literal, update

from dagwell.core.states import RunState
from dagwell.storage.metadata.tables import runs

_QUEUED = RunState.QUEUED.value
_RUNNING = RunState.RUNNING.value
_CANCELLED = RunState.CANCELLED.value


def cancel_queued(tx: Connection, run_id: str, *, by: str, at: datetime, error: str) -> bool:
    """Cancel ``run_id`` now if it still waits in the queue; False if it does not (a
    scheduler claimed it first, or it never was queued)."""
    done = tx.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == _QUEUED)
        .values(
            status=_CANCELLED,
            ended_at=at,
            error=error,
            cancel_requested_at=at,
            cancel_requested_by=by,
        )
    )
    return bool(done.rowcount)


def request_cancel(tx: Connection, run_id: str, *, by: str, at: datetime) -> bool:
    """Ask the runner of ``run_id`` to cancel it; False when the run is not running, or was
    asked already (the first request stands: its runner may be acting on it)."""
    done = tx.execute(
        update(runs)
        .where(
            runs.c.id == run_id,
            runs.c.status == _RUNNING,
            runs.c.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=at, cancel_requested_by=by)
    )
    return bool(done.rowcount)


def cancel_running(
    tx: Connection, run_id: str, *, runner: str | None, by: str, at: datetime, error: str
) -> bool:
    """Record running ``run_id`` cancelled without its runner, which is gone (or never
    started it); False when the run is no longer running or another process (``runner``
    differs) has taken it up since it was seen.

    The caller records the run's open attempts and nodes in the same transaction.
    """
    query = update(runs).where(runs.c.id == run_id, runs.c.status == _RUNNING)
    query = query.where(runs.c.runner.is_(None) if runner is None else runs.c.runner == runner)
    done = tx.execute(
        query.values(
            status=_CANCELLED,
            ended_at=at,
            error=error,
            # A request made earlier (by someone else) stands; this one fills in a missing one.
            cancel_requested_at=func.coalesce(
                runs.c.cancel_requested_at, literal(at, runs.c.cancel_requested_at.type)
            ),
            cancel_requested_by=func.coalesce(runs.c.cancel_requested_by, literal(by)),
        )
    )
    return bool(done.rowcount)
