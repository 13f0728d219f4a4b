"""The child process that executes one run a scheduler daemon claimed.

``python -m dagwell.scheduling.launch RUN_ID --executor process --workers 2`` loads the
run's pipeline from its source, binds its params and drives it with the usual runner. The
daemon stays free of user code; a crash here loses one run, which recovery then resumes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from dagwell.core.states import RunState
from dagwell.errors import DagwellError
from dagwell.execution.attempt import now
from dagwell.execution.cancel import settle_cancelled
from dagwell.execution.loader import load_pipeline
from dagwell.execution.runs import execute_pipeline, get_run
from dagwell.settings import Settings
from dagwell.storage.metadata.queue import end_running, is_recovery
from dagwell.storage.shared import metadata_store

log = logging.getLogger(__name__)


def execute_claimed(
    run_id: str, *, executor: str, workers: int | None, settings: Settings
) -> RunState:
    """Execute the claimed run ``run_id`` to its end and return its state.

    A pipeline that no longer loads, or params that no longer fit it, fail the run with
    the reason instead of leaving it running. A run someone asked to cancel since its
    claim is recorded cancelled without starting.
    """
    from dagwell.scheduling.recovery import attempts_used

    claimed = get_run(run_id, settings=settings)
    if claimed.status is not RunState.RUNNING or claimed.tasks or claimed.source is None:
        log.warning("run %s is not a claimed run waiting to start; nothing to do", run_id)
        return claimed.status
    by = claimed.cancel_requested_by
    if by is not None:  # cancelled between its claim and now: it never starts
        error = f"cancelled by {by} before it started"
        settle_cancelled(metadata_store(settings.db_url), claimed, by=by, error=error, at=now())
        log.info("run %s was %s", run_id, error)
        return RunState.CANCELLED
    try:
        pipeline = load_pipeline(claimed.source)
        bound = pipeline.bind(claimed.params, from_text=True)
        resumed = used = None
        if claimed.trigger == "resume" and claimed.parent_run_id:
            resumed = get_run(claimed.parent_run_id, settings=settings)
            with metadata_store(settings.db_url).reading() as conn:
                # Lost attempts count against retries; a user's resume starts afresh.
                used = attempts_used(resumed) if is_recovery(conn, run_id) else None
        return execute_pipeline(
            pipeline,
            bound,
            executor,
            workers,
            settings,
            hooks=None,
            resumed=resumed,
            claimed=claimed,
            attempts_used=used,
        ).status
    except DagwellError as exc:
        store = metadata_store(settings.db_url)
        with store.transaction() as tx:
            end_running(tx, run_id, error=str(exc), at=now())
        log.error("run %s failed to start: %s", run_id, exc)
        return RunState.FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the daemon's arguments, execute the run, exit 0 only when it succeeded."""
    parser = argparse.ArgumentParser(prog="python -m dagwell.scheduling.launch")
    parser.add_argument("run_id")
    parser.add_argument("--executor", default="process")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    # Ctrl-C in the daemon's terminal reaches this process group too; the daemon decides
    # whether runs in progress go on, and cancels them with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.from_env()
    try:
        state = execute_claimed(
            args.run_id, executor=args.executor, workers=args.workers, settings=settings
        )
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cancelling already
        _cancelled_before_the_runner(args.run_id, settings)
        return 130
    return 0 if state is RunState.SUCCEEDED else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the runner records the run cancelled, as on Ctrl-C


def _cancelled_before_the_runner(run_id: str, settings: Settings) -> None:
    """Record the run cancelled when the daemon's SIGTERM came before the runner could (while
    the run was being loaded or recorded): else it would stay running until recovery
    resumed it as lost."""
    found = get_run(run_id, settings=settings)
    if found.status is RunState.RUNNING:
        error = "cancelled by stopping the scheduler"
        settle_cancelled(
            metadata_store(settings.db_url), found, by="the scheduler", error=error, at=now()
        )


if __name__ == "__main__":
    sys.exit(main())
