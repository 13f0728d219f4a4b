"""The scheduler daemon: registers pipelines, queues due runs, launches them, recovers crashes.

One :meth:`Scheduler.tick` does it all once, at a moment passed in: re-read changed pipeline
files, settle and resume runs whose runner died, queue the scheduled times now due, reap
finished children, and launch queued runs (at most ``max_runs`` at once, and at most each
pipeline's ``max_active_runs``). :meth:`Scheduler.serve` calls it about once a second.
Each run executes in a child process (``dagwell.scheduling.launch``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from dagwell.core.schedules import Schedule
from dagwell.core.states import RunState
from dagwell.errors import DefinitionError
from dagwell.scheduling.discovery import discover, pipeline_files
from dagwell.scheduling.lock import SchedulerLock
from dagwell.scheduling.recovery import recover_dead_runs
from dagwell.settings import Settings
from dagwell.storage.metadata.queue import (
    active_counts,
    any_queued,
    claim,
    claim_key,
    end_running,
    queue_run,
    queued_runs,
)
from dagwell.storage.metadata.registered import (
    RegisteredPipeline,
    clear_load_errors,
    deactivate_others,
    get_pipeline,
    list_load_errors,
    list_pipelines,
    lock_pipelines,
    record_load_error,
    save_pipeline,
    set_next_due,
)
from dagwell.storage.shared import metadata_store

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
"""How often the daemon looks for due schedules and queued runs."""

MAX_PAUSE_SECONDS = 30.0
"""The longest wait between rounds after rounds failed (a locked or unreachable database)."""

RESCAN_SECONDS = 30.0
"""How often pipeline files are checked for changes (they are re-read only if changed)."""

DEFAULT_MAX_ACTIVE_RUNS = 16
"""The limit for a queued pipeline the daemon has not registered (as Airflow's default)."""


def utc_now() -> datetime:
    """The current time in UTC: the daemon's default clock."""
    return datetime.now(timezone.utc)


@dataclass
class Child:
    """A run the daemon launched, and the process executing it."""

    run_id: str
    pipeline: str
    process: subprocess.Popen[bytes]
    started: datetime
    log: IO[bytes]
    cancelled: bool = False


@dataclass
class Event:
    """Something the daemon did, for its live view and its log."""

    at: datetime
    text: str


@dataclass
class Snapshot:
    """What the live view shows: pipelines, runs in progress, recent events, load errors."""

    pipelines: list[RegisteredPipeline]
    running: list[Child]
    events: list[Event]
    load_errors: list[tuple[str, str, datetime]]
    stopping: bool = False


@dataclass
class Scheduler:
    """The daemon over pipeline files (or folders) ``paths``.

    >>> scheduler = Scheduler(["pipelines/"], settings=Settings.from_env())
    >>> scheduler.start()           # takes the lock, registers the pipelines
    >>> scheduler.tick(utc_now())   # one round; serve() loops it
    """

    paths: Sequence[str]
    settings: Settings
    executor: str = "process"
    workers: int | None = None
    max_runs: int = 4
    rescan_seconds: float = RESCAN_SECONDS
    stale_after: float = 60.0
    clock: Callable[[], datetime] = utc_now
    children: dict[str, Child] = field(default_factory=dict)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=200))
    on_event: Callable[[Event], None] | None = None

    def __post_init__(self) -> None:
        self.store = metadata_store(self.settings.db_url)
        self.lock = SchedulerLock(self.settings.db_url)
        self._mtimes: dict[str, float] = {}
        self._scanned_at = float("-inf")
        self._stopping = False
        self.runner_name = f"{socket.gethostname()}:{os.getpid()}"

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Take the scheduler lock (SQLite) and register the pipelines in ``paths``."""
        missing = [p for p in self.paths if not Path(p).exists()]
        if missing:
            raise DefinitionError(
                f"no such pipeline file or folder: {', '.join(map(repr, missing))}"
            )
        self.lock.acquire()
        self.scan(self.clock(), force=True)

    def serve(
        self, stop: threading.Event, on_tick: Callable[[Scheduler], None] | None = None
    ) -> None:
        """Tick about once a second until ``stop`` is set; then wait for the runs in progress."""
        pause = TICK_SECONDS
        while not stop.is_set():
            try:
                self.tick(self.clock())
                pause = TICK_SECONDS
            except Exception as exc:  # a locked or unreachable database must not end it
                pause = min(pause * 2, MAX_PAUSE_SECONDS)
                self._event(
                    f"this round failed ({type(exc).__name__}: {exc}); again in {pause:g} s"
                )
                log.debug("scheduler round failed", exc_info=True)
            if on_tick is not None:
                on_tick(self)
            stop.wait(pause)

    def shutdown(self, *, cancel: bool = False, wait: float | None = None) -> None:
        """Stop launching; wait for running runs (``cancel`` interrupts them first)."""
        self._stopping = True
        if cancel:
            for child in self.children.values():
                if child.process.poll() is None:
                    child.cancelled = True
                    child.process.send_signal(signal.SIGTERM)  # recorded as cancelled
        deadline = None if wait is None else time.monotonic() + wait
        for child in list(self.children.values()):
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                child.process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                continue
        self._reap()
        self.lock.release()

    # -- one round -----------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        """Do one round of the daemon's work at ``now`` (see the module docstring)."""
        if time.monotonic() - self._scanned_at >= self.rescan_seconds:
            self.scan(now)
        self._reap()
        for dead, successor in recover_dead_runs(
            self.store, at=now, own=set(self.children), stale_after=self.stale_after
        ):
            follow = f"resumed as run {successor}" if successor else "given up"
            self._event(f"run {dead} lost its runner; {follow}")
        self.queue_due(now)
        if not self._stopping:
            self.launch(now)

    def scan(self, now: datetime, *, force: bool = False) -> None:
        """Re-read the pipeline files if any changed (or ``force``) and register what they hold."""
        self._scanned_at = time.monotonic()
        present = [p for p in self.paths if Path(p).exists()]
        files = pipeline_files(present)  # a vanished path: its pipelines are unregistered
        mtimes = {f: _mtime(f) for f in files}
        if not force and mtimes == self._mtimes:
            return
        for gone in sorted(set(self.paths) - set(present)):
            self._event(f"pipeline path {gone} is gone; its pipelines are unregistered")
        self._mtimes = mtimes
        found = discover(files)
        events = []
        with self.store.transaction() as tx:
            names = []
            for name, described in sorted(found.pipelines.items()):  # lock order: by name
                names.append(name)
                existing = get_pipeline(tx, name)
                registered = registration(described, existing, now)
                save_pipeline(tx, registered)
                if existing is None or not existing.active:
                    schedule = registered.schedule or "no schedule"
                    events.append(f"registered pipeline {name} ({schedule})")
            deactivate_others(tx, self._in_scope(files), names)
            for path, error in found.errors.items():
                record_load_error(tx, path, error, now)
            clear_load_errors(tx, [f for f in files if f not in found.errors])
        for text in events:
            self._event(text)
        for path, error in found.errors.items():
            self._event("cannot load " + (error if error.startswith(path) else f"{path}: {error}"))

    def _in_scope(self, files: Sequence[str]) -> Callable[[str], bool]:
        """Whether a registered pipeline's file is this daemon's to (de)register: one it
        reads now, or one that was under its paths and is gone."""
        current = set(files)
        roots = [Path(p).resolve() for p in self.paths]

        def in_scope(file: str) -> bool:
            path = Path(file)
            if file in current:
                return True
            under = any(path == root or root in path.parents for root in roots)
            return under and not path.is_file()

        return in_scope

    def _owns(self, file: str) -> bool:
        """Whether ``file`` is under this daemon's paths (it schedules only those)."""
        path = Path(file)
        roots = [Path(p).resolve() for p in self.paths]
        return any(path == root or root in path.parents for root in roots)

    def queue_due(self, now: datetime) -> list[str]:
        """Queue a run for every scheduled time now due; return their ids."""
        from dagwell.execution.runs import new_run_id

        queued: list[str] = []
        with self.store.reading() as conn:  # an idle tick takes no write lock
            due = [
                p
                for p in list_pipelines(conn)
                if _is_due(p, now) and self._owns(p.source.rpartition(":")[0])
            ]
        # The times are worked out before the write lock is taken.
        plans = [(p, *schedule_of(p).due(p.next_due_at, now)) for p in due if p.next_due_at]
        if not plans:
            return queued
        events = []
        with self.store.transaction() as tx:
            for registered, times, next_due in plans:
                for moment in times:
                    run_id = new_run_id()
                    if queue_run(
                        tx,
                        run_id=run_id,
                        pipeline=registered.name,
                        params=dict(registered.schedule_params),
                        source=registered.source,
                        trigger="schedule",
                        created_at=now,
                        scheduled_for=moment,
                        key=claim_key(registered.name, moment),
                    ):
                        queued.append(run_id)
                        events.append(
                            f"queued run {run_id} of {registered.name} for {_local(moment)}"
                        )
                set_next_due(
                    tx, registered.name, next_due_at=next_due, last_scheduled_for=times[-1]
                )
        for text in events:  # after the commit: a failing view must not undo the queue
            self._event(text)
        return queued

    def launch(self, now: datetime) -> list[str]:
        """Claim queued runs within the limits and start a child process for each."""
        room = self.max_runs - len(self.children)
        if room <= 0:
            return []
        claimed: list[tuple[str, str]] = []
        with self.store.reading() as conn:  # an idle tick takes no write lock
            if not any_queued(conn):
                return []
        with self.store.transaction() as tx:
            limits = {p.name: p.max_active_runs for p in list_pipelines(tx, active_only=False)}
            # Several schedulers (PostgreSQL) count and claim in turn: all rows locked at
            # once, in name order, the order queue_due updates them in (no deadlock).
            lock_pipelines(tx, limits)
            full: set[str] = set()
            active: dict[str, int] = {}
            # Pipelines at their limit are left out of the next look, so a long backlog of
            # one pipeline never hides the runs of others behind it.
            while len(claimed) < room:
                waiting = queued_runs(tx, limit=room * 2, skip=full)
                if not waiting:
                    break
                fresh = sorted({p for _, p in waiting if p not in active})
                active.update(dict.fromkeys(fresh, 0) | active_counts(tx, fresh))
                for run_id, pipeline in waiting:
                    if len(claimed) == room:
                        break
                    if active[pipeline] >= limits.get(pipeline, DEFAULT_MAX_ACTIVE_RUNS):
                        full.add(pipeline)
                        continue
                    if claim(tx, run_id, runner=self.runner_name, at=now):
                        active[pipeline] += 1
                        claimed.append((run_id, pipeline))
                else:
                    if len(waiting) < room * 2:
                        break  # the queue is exhausted
        for run_id, pipeline in claimed:
            self._spawn(run_id, pipeline, now)
        return [run_id for run_id, _ in claimed]

    def snapshot(self) -> Snapshot:
        """What the daemon knows now, for a status view."""
        with self.store.reading() as conn:
            pipelines = list_pipelines(conn)
            errors = list_load_errors(conn)
        return Snapshot(
            pipelines, list(self.children.values()), list(self.events), errors, self._stopping
        )

    # -- children ------------------------------------------------------------------------

    def _spawn(self, run_id: str, pipeline: str, now: datetime) -> None:
        logs = Path(self.settings.home) / "scheduler"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{run_id}.log", "ab")  # noqa: SIM115 (closed when reaped)
        command = [sys.executable, "-m", "dagwell.scheduling.launch", run_id]
        command += ["--executor", self.executor]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        try:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                preexec_fn=_ignore_interrupts,
            )
        except OSError as exc:
            out.close()
            with self.store.transaction() as tx:
                end_running(tx, run_id, error=f"could not start its process: {exc}", at=now)
            self._event(f"could not start run {run_id}: {exc}")
            return
        self.children[run_id] = Child(run_id, pipeline, process, now, out)
        self._event(f"started run {run_id} of {pipeline}")

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DAGWELL_HOME"] = str(self.settings.home)
        env["DAGWELL_DB_URL"] = self.settings.db_url
        env["DAGWELL_ARTIFACTS"] = self.settings.artifacts_url
        if self.settings.openlineage:
            env["DAGWELL_OPENLINEAGE"] = self.settings.openlineage
        if self.settings.dask_address:
            env["DAGWELL_DASK_ADDRESS"] = self.settings.dask_address
        return env

    def _reap(self) -> None:
        for run_id, child in list(self.children.items()):
            if child.process.poll() is None:
                continue
            child.log.close()
            del self.children[run_id]
            found = self.store.get_run(run_id)
            code = child.process.returncode
            text = f"run {run_id} of {child.pipeline} {found.status.value}"
            if found.status is RunState.RUNNING and found.runner == self.runner_name:
                # It died before it recorded its start: recovery would take the daemon,
                # named as its runner, for alive.
                if child.cancelled:
                    ended = RunState.CANCELLED
                    error = "cancelled by stopping the scheduler, before the run started"
                else:
                    ended = RunState.FAILED
                    error = (
                        f"its process died (exit code {code}) before it started the run; see "
                        f"{Path(self.settings.home) / 'scheduler' / (run_id + '.log')}"
                    )
                with self.store.transaction() as tx:
                    end_running(tx, run_id, error=error, at=self.clock(), status=ended)
                text = f"run {run_id} of {child.pipeline} {ended.value}: {error}"
            elif found.status is RunState.RUNNING:
                text = f"run {run_id} of {child.pipeline}: its process died (exit code {code})"
            self._event(text)

    def _event(self, text: str) -> None:
        event = Event(self.clock(), text)
        self.events.append(event)
        log.info(text)
        if self.on_event is not None:
            self.on_event(event)


def registration(
    described: Mapping[str, Any], existing: RegisteredPipeline | None, now: datetime
) -> RegisteredPipeline:
    """The row for a pipeline a scan described, keeping an unchanged schedule's progress."""
    start = described["start_at"]
    candidate = RegisteredPipeline(
        name=described["name"],
        source=described["source"],
        description=described["description"],
        params=list(described["params"]),
        max_active_runs=int(described["max_active_runs"]),
        schedule=described["schedule"],
        timezone=described["timezone"],
        start_at=datetime.fromisoformat(start) if start else None,
        catchup=bool(described["catchup"]),
        schedule_params=dict(described["schedule_params"]),
        last_scheduled_for=existing.last_scheduled_for if existing else None,
        next_due_at=None,
        active=True,
        updated_at=now,
    )
    if candidate.schedule is None:
        return candidate
    schedule = schedule_of(candidate)
    same = existing is not None and (
        existing.schedule,
        existing.timezone,
        existing.start_at,
    ) == (candidate.schedule, candidate.timezone, candidate.start_at)
    if same and existing is not None and existing.next_due_at is not None:
        next_due = existing.next_due_at
    elif candidate.last_scheduled_for is not None:
        next_due = schedule.next_after(candidate.last_scheduled_for)
    else:
        next_due = schedule.first_due(now)
    return RegisteredPipeline(**{**candidate.__dict__, "next_due_at": next_due})


def schedule_of(registered: RegisteredPipeline) -> Schedule:
    """The :class:`Schedule` a registration describes."""
    assert registered.schedule is not None
    return Schedule(
        registered.schedule,
        timezone=registered.timezone or "UTC",
        start=registered.start_at,
        catchup=registered.catchup,
        params=registered.schedule_params,
    )


def _ignore_interrupts() -> None:
    """In a run's process, before Python starts: the terminal's Ctrl-C reaches the whole
    process group, and the daemon alone decides what happens to runs (SIGTERM cancels).
    An ignored SIGINT stays ignored across exec, and Python leaves it so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _is_due(registered: RegisteredPipeline, now: datetime) -> bool:
    due_at = registered.next_due_at
    return registered.schedule is not None and due_at is not None and due_at <= now


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
