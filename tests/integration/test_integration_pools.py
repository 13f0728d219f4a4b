"""Pools: at most ``slots`` attempts of a pool's tasks run at once, in one run and across runs.

Tasks record when they ran (see ``pipelines_for_pools.py``); the tests compare the times.
"""

from __future__ import annotations

import signal
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pipelines_for_pools as p
import pytest
import sqlalchemy as sa
from test_integration_resume import start_cli

import dagwell as dw
from dagwell.storage.metadata import pools as queries
from dagwell.storage.metadata.store import NewTaskRun
from dagwell.storage.shared import metadata_store


def lease_rows(settings: dw.Settings) -> list[tuple[str, str, str]]:
    """Every row of the leases table, live or not."""
    with metadata_store(settings.db_url).reading() as conn:
        found = conn.execute(sa.text("SELECT pool, run_id, node FROM pool_leases"))
        return [(row.pool, row.run_id, row.node) for row in found]


def in_use(settings: dw.Settings) -> dict[str, int]:
    return {pool.name: pool.in_use for pool in dw.list_pools(settings=settings)}


@pytest.fixture
def spans_dir(tmp_path: Path) -> Path:
    """Where tasks record when they ran (apart from the DAGWELL_HOME in tmp_path)."""
    folder = tmp_path / "spans"
    folder.mkdir()
    return folder


def wait_until(condition: object, what: str, timeout: float = 30.0) -> None:
    give_up_at = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > give_up_at:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_one_slot_never_lets_two_pool_tasks_overlap(spans_dir: Path, settings: dw.Settings) -> None:
    dw.set_pool("gpu", 1, settings=settings)

    done = dw.run(
        p.gpu_tasks, {"folder": str(spans_dir)}, executor="process", workers=3, settings=settings
    )

    assert done.status == "succeeded", done.error
    spans = p.intervals(spans_dir)
    assert sorted(spans) == ["gpu0.1", "gpu1.1", "gpu2.1"]
    assert p.most_at_once(list(spans.values())) == 1
    assert lease_rows(settings) == []


def test_two_slots_let_exactly_two_run_at_once(spans_dir: Path, settings: dw.Settings) -> None:
    dw.set_pool("gpu", 2, settings=settings)

    done = dw.run(
        p.gpu_tasks,
        {"folder": str(spans_dir), "n": 4, "seconds": 0.5},
        executor="process",
        workers=4,
        settings=settings,
    )

    assert done.status == "succeeded", done.error
    assert p.most_at_once(list(p.intervals(spans_dir).values())) == 2


def test_tasks_without_a_pool_are_not_held_up(spans_dir: Path, settings: dw.Settings) -> None:
    dw.set_pool("gpu", 1, settings=settings)

    done = dw.run(
        p.gpu_and_free, {"folder": str(spans_dir)}, executor="process", workers=3, settings=settings
    )

    assert done.status == "succeeded", done.error
    spans = p.intervals(spans_dir)
    second_gpu_start = max(spans["gpu0.1"][0], spans["gpu1.1"][0])
    assert spans["free.1"][1] < second_gpu_start
    assert p.most_at_once([spans["gpu0.1"], spans["gpu1.1"]]) == 1


def test_mapped_calls_of_a_pool_task_share_its_slots(
    spans_dir: Path, settings: dw.Settings
) -> None:
    dw.set_pool("gpu", 1, settings=settings)

    done = dw.run(
        p.gpu_mapped, {"folder": str(spans_dir)}, executor="process", workers=3, settings=settings
    )

    assert done.status == "succeeded", done.error
    spans = p.intervals(spans_dir)
    assert len(spans) == 3
    assert p.most_at_once(list(spans.values())) == 1


def test_a_retrying_node_gives_its_slot_back_and_takes_one_again(
    spans_dir: Path, settings: dw.Settings
) -> None:
    dw.set_pool("gpu", 1, settings=settings)

    done = dw.run(
        p.gpu_retry, {"folder": str(spans_dir)}, executor="process", workers=2, settings=settings
    )

    assert done.status == "succeeded", done.error
    assert len(done.tasks["gpu_fails_once"].attempts) == 2
    spans = p.intervals(spans_dir)
    assert p.most_at_once(list(spans.values())) == 1
    # "steady" took the slot during the retry delay: the failed attempt had given it back.
    assert spans["flaky.1"][1] <= spans["steady.1"][0] < spans["flaky.2"][0]
    assert lease_rows(settings) == []


def test_a_failed_run_gives_its_slots_back(spans_dir: Path, settings: dw.Settings) -> None:
    dw.set_pool("gpu", 1, settings=settings)

    done = dw.run(p.gpu_failure, {"folder": str(spans_dir)}, executor="inline", settings=settings)

    assert done.status == "failed"
    assert lease_rows(settings) == []


def test_a_task_in_an_unknown_pool_fails_before_anything_is_recorded(
    settings: dw.Settings,
) -> None:
    with pytest.raises(
        dw.DefinitionError,
        match=r"node 'in_missing_pool' runs in pool 'nowhere', which does not exist.*"
        r"dagwell pool set nowhere",
    ):
        dw.run(p.missing_pool, executor="inline", settings=settings)

    assert dw.list_runs(settings=settings) == []


def hold_slot(settings: dw.Settings, pool: str, run_id: str = "other-run") -> None:
    """Take a slot of ``pool`` for a run of another (live) process."""
    store = metadata_store(settings.db_url)
    moment = datetime.now(timezone.utc)
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline="elsewhere",
            params={},
            started_at=moment,
            executor="process",
            task_runs=[NewTaskRun("fit", "fit")],
        )
        assert queries.try_acquire(tx, pool, run_id, "fit", moment)


def test_a_node_waits_for_a_slot_another_run_holds_while_the_rest_goes_on(
    spans_dir: Path, settings: dw.Settings
) -> None:
    dw.set_pool("gpu", 1, settings=settings)
    hold_slot(settings, "gpu")
    runs: list[dw.Run] = []
    runner = threading.Thread(
        target=lambda: runs.append(
            dw.run(p.gpu_and_free, {"folder": str(spans_dir)}, executor="inline", settings=settings)
        )
    )
    runner.start()
    try:
        wait_until(lambda: (spans_dir / "free.1").exists(), "the task without a pool ran")
        time.sleep(0.6)  # two retries' worth: the pool tasks are still waiting
        assert sorted(p.intervals(spans_dir)) == ["free.1"]
        freed_at = time.time()
        with metadata_store(settings.db_url).transaction() as tx:
            queries.release_run(tx, "other-run")
    finally:
        runner.join(timeout=30)

    assert runs and runs[0].status == "succeeded", runs and runs[0].error
    spans = p.intervals(spans_dir)
    assert freed_at < min(spans["gpu0.1"][0], spans["gpu1.1"][0]) < freed_at + 1.0
    assert lease_rows(settings) == []


def test_slots_must_be_a_positive_int_and_names_valid(settings: dw.Settings) -> None:
    for slots in (0, -1, 1.5, "2", True):
        with pytest.raises(dw.DefinitionError, match="slots must be an int >= 1"):
            dw.set_pool("gpu", slots, settings=settings)  # type: ignore[arg-type]
    with pytest.raises(dw.DefinitionError, match="a pool name is letters"):
        dw.set_pool("gpu pool", 1, settings=settings)
    assert dw.list_pools(settings=settings) == []


def test_set_list_and_delete_a_pool(settings: dw.Settings) -> None:
    made = dw.set_pool("gpu", 2, description="two A100s", settings=settings)
    resized = dw.set_pool("gpu", 4, settings=settings)

    assert (made.slots, resized.slots, resized.description) == (2, 4, "two A100s")
    assert [(x.name, x.slots, x.in_use) for x in dw.list_pools(settings=settings)] == [
        ("gpu", 4, 0)
    ]
    dw.delete_pool("gpu", settings=settings)
    assert dw.list_pools(settings=settings) == []
    with pytest.raises(dw.NotFoundError, match="no pool named 'gpu'"):
        dw.delete_pool("gpu", settings=settings)


def test_a_pool_in_use_cannot_be_deleted(settings: dw.Settings) -> None:
    dw.set_pool("gpu", 1, settings=settings)
    hold_slot(settings, "gpu")

    with pytest.raises(dw.DefinitionError, match=r"pool 'gpu' is in use .*node 'fit' of run other"):
        dw.delete_pool("gpu", settings=settings)
    assert in_use(settings) == {"gpu": 1}


KILLABLE = textwrap.dedent(
    """
    import os
    import time

    import dagwell as dw


    @dw.task(pool="gpu")
    def hold(flag: str) -> int:
        while not os.path.exists(flag):
            time.sleep(0.05)
        return 1


    @dw.pipeline
    def holds_gpu(flag: str = "") -> int:
        return hold(flag)
    """
)


def test_resuming_a_killed_run_gives_back_its_slots(tmp_path: Path, settings: dw.Settings) -> None:
    """Otherwise the dead run would hold them until its heartbeat went stale (a minute)."""
    (tmp_path / "holds_gpu.py").write_text(KILLABLE)
    dw.set_pool("gpu", 1, settings=settings)
    flag = tmp_path / "go"
    runner = start_cli(tmp_path, settings, "run", "holds_gpu.py", "-p", f"flag={flag}", "-q")
    try:
        wait_until(lambda: in_use(settings) == {"gpu": 1}, "the run holds the slot")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    (dead,) = dw.list_runs(settings=settings)
    assert in_use(settings) == {"gpu": 1}  # a killed runner gives nothing back itself

    flag.touch()
    started = time.monotonic()
    resumed = dw.resume(dead.id, executor="inline", settings=settings)

    assert resumed.status == "succeeded", resumed.error
    assert time.monotonic() - started < 10
    assert lease_rows(settings) == []
