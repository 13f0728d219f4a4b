"""The scheduler daemon, one ``tick(now)`` at a time, with the clock passed in.

Each test writes its pipeline files into tmp_path and drives a real :class:`Scheduler` on a
SQLite database there. Queuing is checked at chosen moments, with no waiting for the wall
clock; the runs it launches are real child processes (``dagwell.scheduling.launch``), which
a test waits for with ``scheduler.children[id].process.wait()`` before the next tick.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.scheduling.daemon import Scheduler

UTC = timezone.utc
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
"""The ``start`` of every schedule below: long past, so catching up has work to do."""

HEADER = textwrap.dedent(
    """
    import datetime

    import dagwell as dw

    START = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


    @dw.task
    def logical_time() -> str:
        moment = dw.current().scheduled_for
        return moment.isoformat() if moment is not None else "none"
    """
)

CAUGHT_UP = textwrap.dedent(
    """
    @dw.pipeline(schedule=dw.every(seconds=30), start=START, catchup=True)
    def caught_up() -> str:
        return logical_time()
    """
)

NEWEST_ONLY = textwrap.dedent(
    """
    @dw.pipeline(schedule=dw.every(seconds=30), start=START)
    def newest_only() -> str:
        return logical_time()
    """
)

CRON_CAUGHT_UP = textwrap.dedent(
    """
    @dw.pipeline(schedule="*/5 * * * *", start=START, catchup=True)
    def cron_caught_up() -> str:
        return logical_time()
    """
)

SCHEDULED = HEADER + CAUGHT_UP + NEWEST_ONLY + CRON_CAUGHT_UP

WAITING = textwrap.dedent(
    """
    import os
    import time

    import dagwell as dw


    @dw.task
    def wait_for(flag: str) -> str:
        while not os.path.exists(flag):
            time.sleep(0.02)
        return "done"


    @dw.pipeline(max_active_runs={limit})
    def {name}(flag: str = "") -> str:
        return wait_for(flag)
    """
)

KILLABLE = textwrap.dedent(
    """
    import os
    import time

    import dagwell as dw

    FOLDER = {folder!r}


    def note(name: str) -> None:
        with open(os.path.join(FOLDER, "finished.txt"), "a") as out:
            out.write(name + "\\n")


    @dw.task
    def a() -> int:
        note("a")
        return 1


    @dw.task(retries={retries})
    def slow(x: int) -> int:
        while not os.path.exists(os.path.join(FOLDER, "go")):
            time.sleep(0.02)
        note("slow")
        return x + 1


    @dw.task
    def c(x: int) -> int:
        note("c")
        return x * 10


    @dw.pipeline
    def killable() -> int:
        return c(slow(a()))
    """
)


class Clock:
    """A clock the test moves by hand; the scheduler reads it for its events."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def make_scheduler(settings: dw.Settings) -> Iterator[Callable[..., Scheduler]]:
    """Build started Schedulers on the test's database; stop them (and their runs) after."""
    made: list[Scheduler] = []

    def make(paths: list[Path], now: datetime = START, **options: object) -> Scheduler:
        options = {"executor": "inline", "rescan_seconds": 0.0, **options}
        scheduler = Scheduler(
            [str(p) for p in paths], settings=settings, clock=Clock(now), **options
        )
        made.append(scheduler)
        scheduler.start()
        return scheduler

    yield make
    for scheduler in made:
        scheduler.shutdown(cancel=True, wait=30)


def runs_of(settings: dw.Settings, pipeline: str) -> list[dw.Run]:
    return dw.list_runs(pipeline=pipeline, limit=None, settings=settings)


def logical_times(settings: dw.Settings, pipeline: str) -> list[datetime]:
    return sorted(r.scheduled_for for r in runs_of(settings, pipeline) if r.scheduled_for)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def wait_for_children(scheduler: Scheduler) -> None:
    for child in list(scheduler.children.values()):
        assert child.process.wait(timeout=60) is not None


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, moving its mtime on so a scan sees the change."""
    existed = path.exists()
    path.write_text(text)
    if existed:
        later = time.time() + 5
        os.utime(path, (later, later))
    return path


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- queuing -------------------------------------------------------------------------------


def test_catchup_queues_every_missed_time_at_the_first_tick(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler = make_scheduler([write(tmp_path / "scheduled.py", SCHEDULED)], max_runs=0)

    scheduler.tick(at(100))

    assert logical_times(settings, "caught_up") == [at(0), at(30), at(60), at(90)]
    assert logical_times(settings, "newest_only") == [at(90)]
    assert logical_times(settings, "cron_caught_up") == [at(0)]
    runs = runs_of(settings, "caught_up")
    assert {(r.status.value, r.trigger) for r in runs} == {("queued", "schedule")}


def test_a_cron_schedule_catches_up_after_downtime(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler = make_scheduler([write(tmp_path / "scheduled.py", SCHEDULED)], max_runs=0)
    scheduler.tick(at(60))

    scheduler.tick(at(17 * 60))  # down for 16 minutes: 12:05, 12:10 and 12:15 were missed

    assert logical_times(settings, "cron_caught_up") == [at(0), at(300), at(600), at(900)]


def test_after_downtime_catchup_queues_each_missed_time_and_otherwise_the_newest(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler = make_scheduler([write(tmp_path / "scheduled.py", SCHEDULED)], max_runs=0)
    scheduler.tick(at(100))

    scheduler.tick(at(195))  # 120, 150 and 180 are due now

    assert logical_times(settings, "caught_up") == [at(s) for s in (0, 30, 60, 90, 120, 150, 180)]
    assert logical_times(settings, "newest_only") == [at(90), at(180)]


def test_no_logical_time_is_queued_twice_even_by_a_restarted_daemon(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "scheduled.py", SCHEDULED)
    first = make_scheduler([file], max_runs=0)
    first.tick(at(100))
    first.tick(at(100))
    first.shutdown()

    second = make_scheduler([file], now=at(100), max_runs=0)
    second.tick(at(100))
    second.tick(at(100))

    times = logical_times(settings, "caught_up")
    assert times == [at(0), at(30), at(60), at(90)]
    assert len(logical_times(settings, "newest_only")) == 1


def test_nothing_is_queued_before_a_schedule_is_due(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler = make_scheduler([write(tmp_path / "scheduled.py", SCHEDULED)], max_runs=0)

    scheduler.tick(START - timedelta(seconds=1))

    assert runs_of(settings, "caught_up") == []
    assert [p.next_due_at for p in dw.registered_pipelines(settings=settings)] == [START] * 3


# -- registering ---------------------------------------------------------------------------


def test_a_changed_schedule_is_registered_again_on_the_next_scan(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "scheduled.py", SCHEDULED)
    scheduler = make_scheduler([file], max_runs=0)
    scheduler.tick(at(100))

    hourly = CAUGHT_UP.replace("dw.every(seconds=30), start=START, catchup=True", "'@hourly'")
    write(file, HEADER + hourly + NEWEST_ONLY + CRON_CAUGHT_UP)
    scheduler.tick(at(110))

    registered = {p.name: p for p in dw.registered_pipelines(settings=settings)}
    assert registered["caught_up"].schedule == "@hourly"
    assert registered["caught_up"].next_due_at == at(3600)
    assert registered["newest_only"].schedule == "every 30s"


def test_a_pipeline_removed_from_its_file_is_marked_inactive_and_no_longer_queued(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "scheduled.py", SCHEDULED)
    scheduler = make_scheduler([file], max_runs=0)
    scheduler.tick(at(100))

    write(file, HEADER + CAUGHT_UP + NEWEST_ONLY)
    scheduler.tick(at(1000))

    active = [p.name for p in dw.registered_pipelines(settings=settings)]
    assert active == ["caught_up", "newest_only"]
    assert logical_times(settings, "cron_caught_up") == [at(0)]  # nothing after the removal


def test_a_deleted_pipeline_file_marks_its_pipelines_inactive(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    file = write(folder / "scheduled.py", SCHEDULED)
    write(folder / "other.py", WAITING.format(name="other", limit=1))
    scheduler = make_scheduler([folder], max_runs=0)
    scheduler.tick(at(100))

    file.unlink()
    scheduler.tick(at(1000))

    active = [p.name for p in dw.registered_pipelines(settings=settings)]
    assert active == ["other"]
    assert logical_times(settings, "caught_up") == [at(0), at(30), at(60), at(90)]


# -- launching -----------------------------------------------------------------------------


def test_a_scheduled_run_sees_its_logical_time_in_dw_current(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler = make_scheduler([write(tmp_path / "scheduled.py", HEADER + NEWEST_ONLY)])

    scheduler.tick(at(100))
    wait_for_children(scheduler)

    [run] = runs_of(settings, "newest_only")
    assert run.status == "succeeded", run.error
    assert run.scheduled_for == at(90)
    assert run.result() == at(90).isoformat()


def test_max_active_runs_launches_one_run_of_a_pipeline_at_a_time(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "one_at_a_time.py", WAITING.format(name="one_at_a_time", limit=1))
    flag = tmp_path / "go"
    scheduler = make_scheduler([file])
    first = dw.trigger(f"{file}:one_at_a_time", {"flag": str(flag)}, settings=settings)
    second = dw.trigger(f"{file}:one_at_a_time", {"flag": str(flag)}, settings=settings)

    scheduler.tick(at(0))
    scheduler.tick(at(1))

    assert list(scheduler.children) == [first.id]
    assert dw.get_run(second.id, settings=settings).status == "queued"
    flag.touch()
    wait_for_children(scheduler)
    scheduler.tick(at(2))
    assert list(scheduler.children) == [second.id]
    wait_for_children(scheduler)
    scheduler.tick(at(3))
    assert scheduler.children == {}
    assert [dw.get_run(r.id, settings=settings).status.value for r in (first, second)] == [
        "succeeded",
        "succeeded",
    ]


def test_max_active_runs_above_one_launches_runs_side_by_side(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "two_at_a_time.py", WAITING.format(name="two_at_a_time", limit=2))
    flag = tmp_path / "go"
    scheduler = make_scheduler([file])
    queued = [
        dw.trigger(f"{file}:two_at_a_time", {"flag": str(flag)}, settings=settings)
        for _ in range(3)
    ]

    scheduler.tick(at(0))

    assert sorted(scheduler.children) == sorted(r.id for r in queued[:2])
    flag.touch()
    wait_for_children(scheduler)


def test_max_runs_limits_the_runs_executing_at_once_across_pipelines(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    left = write(tmp_path / "left.py", WAITING.format(name="left", limit=1))
    right = write(tmp_path / "right.py", WAITING.format(name="right", limit=1))
    flag = tmp_path / "go"
    scheduler = make_scheduler([left, right], max_runs=1)
    first = dw.trigger(f"{left}:left", {"flag": str(flag)}, settings=settings)
    second = dw.trigger(f"{right}:right", {"flag": str(flag)}, settings=settings)

    scheduler.tick(at(0))
    scheduler.tick(at(1))

    assert list(scheduler.children) == [first.id]
    assert dw.get_run(second.id, settings=settings).status == "queued"
    flag.touch()
    wait_for_children(scheduler)
    scheduler.tick(at(2))
    assert list(scheduler.children) == [second.id]
    wait_for_children(scheduler)
    assert dw.get_run(second.id, settings=settings).status == "succeeded"


def test_a_long_backlog_of_one_pipeline_does_not_hold_up_the_others(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    """A backfill of 40 days, one run at a time, must not starve a run triggered after it."""
    flag = tmp_path / "go"
    nightly = write(
        tmp_path / "nightly.py",
        WAITING.format(name="nightly", limit=1)
        .replace("@dw.pipeline(", '@dw.pipeline(schedule="@daily", ')
        .replace('flag: str = ""', f"flag: str = {str(flag)!r}"),
    )
    other = write(tmp_path / "other.py", WAITING.format(name="other", limit=1))
    scheduler = make_scheduler([nightly, other])
    backlog = dw.backfill(
        f"{nightly}:nightly", date(2025, 1, 1), date(2025, 2, 9), settings=settings
    )
    assert len(backlog.queued) == 40
    urgent = dw.trigger(f"{other}:other", {"flag": str(flag)}, settings=settings)

    scheduler.tick(at(0))

    assert sorted(scheduler.children) == sorted([backlog.queued[0][0], urgent.id])
    flag.touch()


def test_a_queued_run_whose_file_no_longer_loads_is_recorded_failed_with_the_reason(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "soon_broken.py", WAITING.format(name="soon_broken", limit=1))
    scheduler = make_scheduler([file])
    queued = dw.trigger(f"{file}:soon_broken", settings=settings)

    write(file, "import dagwell as dw\n\n\ndef broken(:\n    pass\n")
    scheduler.tick(at(0))
    wait_for_children(scheduler)
    scheduler.tick(at(1))

    failed = dw.get_run(queued.id, settings=settings)
    assert failed.status == "failed"
    assert "soon_broken.py" in (failed.error or "")
    assert "syntax error" in (failed.error or "")
    assert any("cannot load" in e.text and "soon_broken.py" in e.text for e in scheduler.events)


def test_a_run_whose_process_dies_before_starting_it_is_not_left_running(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    """The child dies while importing the file (as after an OOM kill): nothing recorded
    its start, so the run still names the daemon as its runner."""
    file = write(tmp_path / "dies_early.py", WAITING.format(name="dies_early", limit=1))
    scheduler = make_scheduler([file], rescan_seconds=3600.0)
    queued = dw.trigger(f"{file}:dies_early", settings=settings)
    write(file, "import os\n\nos._exit(3)\n")

    scheduler.tick(at(0))
    wait_for_children(scheduler)
    scheduler.tick(at(1))

    found = dw.get_run(queued.id, settings=settings)
    assert any("its process died (exit code 3)" in e.text for e in scheduler.events)
    assert found.status != "running", f"left running, its runner still {found.runner!r}"


# -- one scheduler per SQLite database -----------------------------------------------------


def test_a_second_scheduler_on_the_same_sqlite_database_refuses_to_start(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    file = write(tmp_path / "scheduled.py", SCHEDULED)
    first = make_scheduler([file], max_runs=0)
    second = Scheduler([str(file)], settings=settings)

    with pytest.raises(dw.DagwellError, match=r"another scheduler .* is running") as raised:
        second.start()
    assert f"pid {os.getpid()}" in str(raised.value)
    assert "only one may run on SQLite" in str(raised.value)

    first.shutdown()
    second.start()  # the lock is free again
    second.shutdown()


# -- crash recovery ------------------------------------------------------------------------


def launch_and_kill_during_slow(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler], retries: int
) -> tuple[Scheduler, dw.Run]:
    """Launch ``killable`` from a daemon, then SIGKILL its process while ``slow`` runs."""
    file = write(tmp_path / "killable.py", KILLABLE.format(folder=str(tmp_path), retries=retries))
    scheduler = make_scheduler([file])
    queued = dw.trigger(f"{file}:killable", settings=settings)
    scheduler.tick(at(0))
    child = scheduler.children[queued.id].process

    def slow_running() -> bool:
        tasks = dw.get_run(queued.id, settings=settings).tasks
        return "slow" in tasks and tasks["slow"].status == "running"

    wait_until(slow_running, "slow to run")
    os.kill(child.pid, signal.SIGKILL)  # inline executor: the tasks run in this process
    child.wait(timeout=30)
    return scheduler, queued


def test_a_run_whose_process_was_killed_is_failed_and_resumed_reusing_what_succeeded(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler, queued = launch_and_kill_during_slow(tmp_path, settings, make_scheduler, 1)
    (tmp_path / "go").touch()

    scheduler.tick(at(5))

    dead = dw.get_run(queued.id, settings=settings)
    assert dead.status == "failed" and "died" in (dead.error or "")
    lost = dead.tasks["slow"].attempts
    assert [(a.number, a.status.value) for a in lost] == [(1, "failed")]
    assert "lost" in (lost[0].error or "")
    assert dead.tasks["slow"].status == "failed"
    assert dead.tasks["c"].status == "cancelled"
    [resume] = [r for r in runs_of(settings, "killable") if r.id != dead.id]
    assert resume.trigger == "resume" and resume.parent_run_id == dead.id
    assert dead.error is not None and resume.id in dead.error

    assert list(scheduler.children) == [resume.id]  # launched in the same tick
    wait_for_children(scheduler)
    done = dw.get_run(resume.id, settings=settings)
    assert done.status == "succeeded", done.error
    assert {n: t.status.value for n, t in done.tasks.items()} == {
        "a": "reused",
        "slow": "succeeded",
        "c": "succeeded",
    }
    assert [a.number for a in done.tasks["slow"].attempts] == [2]  # the lost one counted
    assert done.result() == 20
    assert (tmp_path / "finished.txt").read_text().split() == ["a", "slow", "c"]


def test_a_lost_attempt_of_a_task_without_retries_fails_it_on_resume(
    tmp_path: Path, settings: dw.Settings, make_scheduler: Callable[..., Scheduler]
) -> None:
    scheduler, queued = launch_and_kill_during_slow(tmp_path, settings, make_scheduler, 0)
    (tmp_path / "go").touch()

    scheduler.tick(at(5))
    wait_for_children(scheduler)
    scheduler.tick(at(6))

    [resume] = [r for r in runs_of(settings, "killable") if r.id != queued.id]
    assert resume.trigger == "resume" and resume.parent_run_id == queued.id
    assert resume.status == "failed"
    statuses = {n: t.status.value for n, t in resume.tasks.items()}
    assert statuses == {"a": "reused", "slow": "failed", "c": "upstream_failed"}
    assert resume.tasks["slow"].attempts == ()
    assert "lost" in (resume.tasks["slow"].error or "")
    assert (tmp_path / "finished.txt").read_text().split() == ["a"]
    assert [r.id for r in runs_of(settings, "killable")].count(resume.id) == 1
    assert len(runs_of(settings, "killable")) == 2  # a failed resume is not resumed again
