"""Resume: a new run reuses what succeeded (fan-outs item by item) and runs the rest."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pipelines_for_tests as p
import pytest

import dagwell as dw
from dagwell_process import dagwell_env, start_dagwell


def start_cli(
    folder: Path, settings: dw.Settings, *args: str, capture: bool = False
) -> subprocess.Popen[str]:
    """Start ``dagwell ARGS`` in the background, recording into ``settings.home``."""
    return start_dagwell(
        folder, dagwell_env({"DAGWELL_HOME": str(settings.home)}), *args, capture=capture
    )


def statuses(run: dw.Run) -> dict[str, str]:
    return {node: task.status.value for node, task in run.tasks.items()}


def test_resume_reuses_successes_item_by_item_and_reruns_the_rest(
    tmp_path: Path, settings: dw.Settings
) -> None:
    flag = str(tmp_path / "fixed")
    failed = dw.run(p.mapped_until_fixed, {"flag": flag}, executor="inline", settings=settings)
    assert failed.status == "failed"
    assert failed.tasks["fails_until_fixed[1]"].status == "failed"  # the item x == 2

    Path(flag).touch()
    resumed = dw.resume(
        failed.id, pipeline=p.mapped_until_fixed, executor="process", settings=settings
    )

    assert resumed.status == "succeeded"
    assert resumed.result() == [10, 20, 30, 40]
    assert resumed.parent_run_id == failed.id and resumed.trigger == "resume"
    got = statuses(resumed)
    assert got["numbers"] == "reused"
    assert [got[f"fails_until_fixed[{i}]"] for i in range(4)] == [
        "reused",
        "succeeded",
        "reused",
        "reused",
    ]
    assert resumed.tasks["fails_until_fixed[0]"].attempts == ()
    assert dw.get_run(failed.id, settings=settings).status == "failed"  # left as it was


def test_a_succeeded_run_cannot_be_resumed(settings: dw.Settings) -> None:
    done = dw.run(p.basic, executor="inline", settings=settings)

    with pytest.raises(dw.DefinitionError, match="nothing to resume"):
        dw.resume(done.id, settings=settings)


PIPELINE = textwrap.dedent(
    """
    import os
    import time

    import dagwell as dw


    @dw.task
    def quick() -> int:
        return 41


    @dw.task
    def slow(x: int, flag: str) -> int:
        while not os.path.exists(flag):
            time.sleep(0.05)
        return x + 1


    @dw.pipeline
    def killable(flag: str = "") -> int:
        return slow(quick(), flag=flag)
    """
)


def test_a_run_whose_runner_was_killed_resumes_from_the_file_it_started_from(
    tmp_path: Path, settings: dw.Settings, run_cli: object
) -> None:
    (tmp_path / "killable.py").write_text(PIPELINE)
    flag = tmp_path / "go"
    runner = start_cli(tmp_path, settings, "run", "killable.py", "-p", f"flag={flag}", "-q")
    try:
        run_id = _wait_for_node(settings, "quick", "succeeded", "slow", "running")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    assert dw.get_run(run_id, settings=settings).status == "running"  # as the kill left it

    flag.touch()
    done = run_cli("resume", run_id, "-q")  # type: ignore[operator]

    assert done.returncode == 0, done.stdout + done.stderr
    resumed = dw.list_runs(limit=1, settings=settings)[0]
    assert statuses(resumed) == {"quick": "reused", "slow": "succeeded"}
    assert resumed.result() == 42
    old = dw.get_run(run_id, settings=settings)
    assert old.status == "failed" and "died" in (old.error or "")
    assert old.tasks["slow"].attempts[-1].status == "failed"


def _wait_for_node(settings: dw.Settings, *wanted: str) -> str:
    pairs = dict(zip(wanted[::2], wanted[1::2], strict=True))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = dw.list_runs(limit=1, settings=settings)
        if found and all(
            node in found[0].tasks and found[0].tasks[node].status == status
            for node, status in pairs.items()
        ):
            return found[0].id
        time.sleep(0.05)
    raise AssertionError(f"the run never reached {pairs}")


SLOW_MAP = textwrap.dedent(
    """
    import time

    import dagwell as dw


    @dw.task
    def items() -> list[int]:
        return [1, 2, 3, 4]


    @dw.task
    def slow(x: int) -> int:
        time.sleep(30)
        return x


    @dw.pipeline
    def slow_map() -> list[int]:
        return slow.map(items())
    """
)


def test_ctrl_c_cancels_the_run_and_every_node_left_open(
    tmp_path: Path, settings: dw.Settings
) -> None:
    (tmp_path / "slow_map.py").write_text(SLOW_MAP)
    runner = start_cli(tmp_path, settings, "run", "slow_map.py", "-q", "--workers", "2")
    run_id = _wait_for_node(settings, "slow[0]", "running")
    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=30) == 130

    cancelled = dw.get_run(run_id, settings=settings)
    assert cancelled.status == "cancelled"
    assert statuses(cancelled) == {
        "items": "succeeded",
        "slow": "cancelled",
        **{f"slow[{i}]": "cancelled" for i in range(4)},
    }


def test_a_runner_whose_run_was_taken_over_stops_without_touching_the_records(
    tmp_path: Path, settings: dw.Settings
) -> None:
    from dagwell.execution.runs import _settle_dead_run
    from dagwell.storage.shared import metadata_store

    (tmp_path / "killable.py").write_text(PIPELINE)
    flag = tmp_path / "go"
    runner = start_cli(
        tmp_path, settings, "run", "killable.py", "-p", f"flag={flag}", "-q", capture=True
    )
    run_id = _wait_for_node(settings, "slow", "running")
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:  # what a resume elsewhere does to a run it thinks dead
        _settle_dead_run(store, tx, dw.get_run(run_id, settings=settings), "successor")

    flag.touch()
    _, stderr = runner.communicate(timeout=60)

    assert runner.returncode == 1
    assert "taken over" in stderr and "Traceback" not in stderr
    settled = dw.get_run(run_id, settings=settings)
    assert settled.status == "failed" and "resumed as run successor" in (settled.error or "")


def test_a_long_inline_task_keeps_its_runs_heartbeat_fresh(
    settings: dw.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagwell.execution import runner

    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)

    done = dw.run(p.two_pauses, {"seconds": 0.3}, executor="inline", settings=settings)

    assert done.heartbeat_at is not None and done.started_at is not None
    assert (done.heartbeat_at - done.started_at).total_seconds() >= 0.3
