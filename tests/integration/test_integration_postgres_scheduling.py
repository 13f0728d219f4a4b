"""The scheduler on PostgreSQL: the store basics it needs, and several schedulers on one database.

On SQLite one scheduler runs at a time (a file lock); on PostgreSQL several may, and no
logical time is queued twice (``claim_key`` is unique) and no queued run is started twice
(claims take rows ``FOR UPDATE SKIP LOCKED``). Each test gets a fresh database on the
session's throwaway server (``tests/postgres_server.py``); pipeline files go in tmp_path.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import inspect, select, text, update

import dagwell as dw
from dagwell.core.states import RunState
from dagwell.execution.loader import load_pipeline
from dagwell.scheduling import daemon
from dagwell.scheduling.daemon import Scheduler
from dagwell.scheduling.lock import SchedulerLock
from dagwell.storage.metadata.migrate import HEAD_REVISION
from dagwell.storage.metadata.store import MetadataStore
from dagwell.storage.metadata.tables import runs
from dagwell.storage.shared import metadata_store

pytestmark = pytest.mark.postgres

T = TypeVar("T")

UTC = timezone.utc
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
"""The ``start`` of the schedule below: its first logical time."""

DUE = 40
"""Logical times due at :data:`NOW`: one a second from :data:`START`."""

NOW = START + timedelta(seconds=DUE - 1)

LIMIT = 4
"""``max_active_runs`` of the scheduled pipeline: fewer than three schedulers' slots."""

PIPELINES = textwrap.dedent(
    f"""
    import datetime
    import json
    import os

    import dagwell as dw

    START = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
    NOTES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "executed.jsonl")


    @dw.task
    def add(a: int, b: int) -> int:
        return a + b


    @dw.pipeline
    def small(a: int = 1) -> int:
        return add(a, 2)


    @dw.task
    def note() -> str:
        # One line per execution: the test checks that no run executed twice.
        context = dw.current()
        moment = context.scheduled_for.isoformat()
        with open(NOTES, "a") as out:
            out.write(json.dumps({{"run": context.run_id, "for": moment}}) + "\\n")
        return moment


    @dw.pipeline(
        schedule=dw.every(seconds=1), start=START, catchup=True, max_active_runs={LIMIT}
    )
    def every_second() -> str:
        return note()
    """
)


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    """The pipelines above, in a file of their own (schedulers load pipelines from files)."""
    path = tmp_path / "pipelines" / "postgres_pipelines.py"
    path.parent.mkdir()
    path.write_text(PIPELINES)
    return path


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str) -> dw.Settings:
    """Settings with the metadata in this test's PostgreSQL database, the rest in tmp_path."""
    return dw.Settings.from_env({}, home=tmp_path / "home", db_url=postgres_url)


@dataclass
class RecordingScheduler(Scheduler):
    """A scheduler that records the runs it would start instead of starting a process."""

    spawned: list[str] = field(default_factory=list)

    def _spawn(self, run_id: str, pipeline: str, now: datetime) -> None:
        self.spawned.append(run_id)


MakeSchedulers = Callable[..., list[RecordingScheduler]]


@pytest.fixture
def make_schedulers(pipeline_file: Path, pg_settings: dw.Settings) -> Iterator[MakeSchedulers]:
    """``make(n)``: ``n`` schedulers of the pipeline file on the test's database, started."""
    made: list[RecordingScheduler] = []

    def make(n: int, *, max_runs: int = 2, start: bool = True) -> list[RecordingScheduler]:
        for i in range(n):
            scheduler = RecordingScheduler(
                [str(pipeline_file)],
                settings=pg_settings,
                executor="inline",
                max_runs=max_runs,
                rescan_seconds=3600.0,
                clock=lambda: NOW,
            )
            # In one process they would share a name; on several hosts they would not.
            scheduler.runner_name = f"scheduler-{i}"
            if start:
                scheduler.start()
            made.append(scheduler)
        return made[-n:]

    yield make
    for scheduler in made:
        scheduler.shutdown(wait=10)


@pytest.fixture
def overlap(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``overlap(name)``: three threads' first calls of the daemon's ``name`` wait for each other.

    Each call returns only when all three have made it, so the schedulers' transactions
    interleave in the worst way every time instead of now and then. Code that serializes
    them (as it may) only waits out the barrier's short timeout.
    """

    def patch(name: str) -> None:
        real = getattr(daemon, name)
        barrier = threading.Barrier(3, timeout=2)
        called = threading.local()

        def call_then_wait(*args: Any, **kwargs: Any) -> Any:
            found = real(*args, **kwargs)
            if not getattr(called, "once", False):
                called.once = True
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            return found

        monkeypatch.setattr(daemon, name, call_then_wait)

    return patch


def all_at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in threads that start together (a barrier); their results in order."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def together(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(together, call) for call in calls]
        return [future.result(timeout=60) for future in futures]


def run_rows(settings: dw.Settings, pipeline: str) -> list[dict[str, Any]]:
    """Every ``runs`` row of ``pipeline``, as dicts."""
    with metadata_store(settings.db_url).reading() as conn:
        found = conn.execute(select(runs).where(runs.c.pipeline == pipeline))
        return [dict(row._mapping) for row in found]


def finish_running(settings: dw.Settings) -> None:
    """Record every running run as succeeded, as their processes would."""
    with metadata_store(settings.db_url).transaction() as tx:
        tx.execute(
            update(runs)
            .where(runs.c.status == RunState.RUNNING.value)
            .values(status=RunState.SUCCEEDED.value, ended_at=NOW)
        )


def seconds_from_start(count: int) -> list[datetime]:
    """The schedule's first ``count`` logical times."""
    return [START + timedelta(seconds=s) for s in range(count)]


# -- the store basics ---------------------------------------------------------------------


def test_a_fresh_database_gets_the_schema_on_first_use(postgres_url: str) -> None:
    store = MetadataStore(postgres_url)
    try:
        with store.transaction() as tx:
            version = tx.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            tables = set(inspect(tx).get_table_names())
    finally:
        store.dispose()
    assert version == HEAD_REVISION
    assert {"runs", "task_runs", "attempts", "outputs", "pipelines"} <= tables


def test_trigger_queues_a_run_with_its_params(
    pipeline_file: Path, pg_settings: dw.Settings
) -> None:
    queued = dw.trigger(f"{pipeline_file}:small", {"a": 5}, settings=pg_settings)

    found = dw.get_run(queued.id, settings=pg_settings)
    assert found.status is RunState.QUEUED
    assert dict(found.params) == {"a": 5}
    assert found.source == f"{pipeline_file}:small"


def test_backfill_queues_each_time_once(pipeline_file: Path, pg_settings: dw.Settings) -> None:
    spec = f"{pipeline_file}:every_second"
    times = seconds_from_start(6)

    first = dw.backfill(spec, times[0], times[4], settings=pg_settings)
    again = dw.backfill(spec, times[0], times[5], settings=pg_settings)

    assert [moment for _, moment in first.queued] == times[:5]
    assert again.skipped == times[:5]
    assert [moment for _, moment in again.queued] == times[5:]
    rows = run_rows(pg_settings, "every_second")
    assert sorted(row["scheduled_for"] for row in rows) == times


def test_an_inline_run_is_recorded_and_read_back(
    pipeline_file: Path, pg_settings: dw.Settings
) -> None:
    pipeline = load_pipeline(f"{pipeline_file}:small")

    done = dw.run(pipeline, {"a": 5}, executor="inline", settings=pg_settings)

    found = dw.get_run(done.id, settings=pg_settings)
    assert found.status is RunState.SUCCEEDED
    assert found.result() == 7
    assert [task.status for task in found.tasks.values()] == [dw.TaskState.SUCCEEDED]


# -- several schedulers -------------------------------------------------------------------


def test_the_scheduler_lock_is_a_no_op_on_postgres(
    postgres_url: str, make_schedulers: MakeSchedulers
) -> None:
    first, second = make_schedulers(2, max_runs=1)  # both start(): neither is refused

    assert first.lock.path is None and second.lock.path is None
    assert SchedulerLock(postgres_url).path is None


def test_schedulers_starting_at_once_register_each_pipeline(
    pg_settings: dw.Settings, make_schedulers: MakeSchedulers, overlap: Callable[[str], None]
) -> None:
    schedulers = make_schedulers(3, start=False)
    overlap("get_pipeline")  # all look their first pipeline up before any registers it

    all_at_once([s.start for s in schedulers])

    registered = dw.registered_pipelines(settings=pg_settings)
    assert [p.name for p in registered] == ["every_second", "small"]


def test_schedulers_queuing_at_once_queue_each_time_once(
    pg_settings: dw.Settings, make_schedulers: MakeSchedulers, overlap: Callable[[str], None]
) -> None:
    schedulers = make_schedulers(3)
    overlap("list_pipelines")  # all see the same times due before any queues them

    queued = all_at_once([partial(s.queue_due, NOW) for s in schedulers])

    rows = run_rows(pg_settings, "every_second")
    assert sorted(row["scheduled_for"] for row in rows) == seconds_from_start(DUE)
    assert len({row["claim_key"] for row in rows}) == DUE
    ids = [run_id for some in queued for run_id in some]
    assert sorted(ids) == sorted(row["id"] for row in rows)  # each reported by one


def test_schedulers_launching_at_once_claim_each_run_once(
    pg_settings: dw.Settings, make_schedulers: MakeSchedulers, overlap: Callable[[str], None]
) -> None:
    schedulers = make_schedulers(3)
    schedulers[0].queue_due(NOW)
    overlap("queued_runs")  # each round, all lock their runs before any claims one
    claimed_by: dict[str, list[str]] = {}

    for turn in range(DUE):
        claimed = all_at_once([partial(s.launch, NOW) for s in schedulers])
        if turn == 0:  # SKIP LOCKED: several got runs of their own, up to the limit
            assert sum(len(ids) for ids in claimed) == LIMIT, claimed
            assert sum(1 for ids in claimed if ids) >= 2, claimed
        for scheduler, ids in zip(schedulers, claimed, strict=True):
            for run_id in ids:
                claimed_by.setdefault(run_id, []).append(scheduler.runner_name)
        running = [
            row
            for row in run_rows(pg_settings, "every_second")
            if row["status"] == RunState.RUNNING.value
        ]
        assert sorted(row["id"] for row in running) == sorted(i for ids in claimed for i in ids)
        assert all(claimed_by[row["id"]] == [row["runner"]] for row in running)
        if not running:
            break
        finish_running(pg_settings)

    assert len(claimed_by) == DUE
    assert [run_id for run_id, names in claimed_by.items() if len(names) > 1] == []
    for scheduler in schedulers:
        mine = [run_id for run_id, names in claimed_by.items() if names[0] == scheduler.runner_name]
        assert scheduler.spawned == mine


def test_schedulers_launching_at_once_respect_max_active_runs(
    pg_settings: dw.Settings, make_schedulers: MakeSchedulers, overlap: Callable[[str], None]
) -> None:
    schedulers = make_schedulers(3, max_runs=LIMIT)
    schedulers[0].queue_due(NOW)
    overlap("queued_runs")  # all hold runs of their own before any counts or claims

    claimed = all_at_once([partial(s.launch, NOW) for s in schedulers])

    rows = run_rows(pg_settings, "every_second")
    assert Counter(row["status"] for row in rows)[RunState.RUNNING.value] == LIMIT
    assert sum(len(ids) for ids in claimed) == LIMIT


SCHEDULER_PROCESS = textwrap.dedent(
    """
    import json
    import sys
    import time
    from datetime import datetime

    import dagwell as dw
    from dagwell.scheduling.daemon import Scheduler

    path, home, db_url, now_text, total = sys.argv[1:]
    now = datetime.fromisoformat(now_text)
    settings = dw.Settings.from_env({}, home=home, db_url=db_url)
    scheduler = Scheduler(
        [path], settings=settings, executor="inline", max_runs=2, rescan_seconds=3600.0,
        clock=lambda: now,
    )
    scheduler.start()
    launched = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        scheduler.tick(now)
        launched += [e.text.split()[2] for e in scheduler.events if e.text.startswith("started")]
        scheduler.events.clear()
        done = dw.list_runs(
            pipeline="every_second", status="succeeded", limit=None, settings=settings
        )
        if len(done) >= int(total) and not scheduler.children:
            break
        time.sleep(0.1)
    scheduler.shutdown(wait=30)
    print(json.dumps(launched))
    """
)


@pytest.mark.slow
def test_scheduler_processes_run_each_scheduled_time_once(
    pipeline_file: Path, pg_settings: dw.Settings
) -> None:
    """Three daemons on one database start real runs: each time runs once, started by one."""
    due = 6
    now = START + timedelta(seconds=due - 1)
    # Registered once up front: daemons registering a new pipeline together may collide.
    Scheduler([str(pipeline_file)], settings=pg_settings, clock=lambda: now).scan(now, force=True)
    command = [sys.executable, "-c", SCHEDULER_PROCESS, str(pipeline_file)]
    command += [str(pg_settings.home), pg_settings.db_url, now.isoformat(), str(due)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=110) for process in processes]

    for process, (_, errors) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, errors
    launched = [run_id for out, _ in outputs for run_id in json.loads(out)]
    rows = run_rows(pg_settings, "every_second")
    assert sorted(row["scheduled_for"] for row in rows) == seconds_from_start(due)
    assert {row["status"] for row in rows} == {RunState.SUCCEEDED.value}
    assert sorted(launched) == sorted(row["id"] for row in rows)  # each started by one daemon
    notes = (pipeline_file.parent / "executed.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["run"] for line in notes) == sorted(launched)  # each ran once
