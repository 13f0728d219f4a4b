"""Following the log of an attempt while it runs, in a worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import dagwell as dw
from dagwell.execution.attempt import read_log
from dagwell.execution.capture import LIVE_SUFFIX

WAITS_FOR_A_FLAG = textwrap.dedent(
    """
    import logging
    import time
    from pathlib import Path

    import dagwell as dw


    @dw.task
    def slow(flag: str) -> int:
        print("loading the data")
        logging.getLogger("fit").info("epoch 1 done")
        while not Path(flag).exists():
            time.sleep(0.05)
        print("all done")
        return 1


    @dw.pipeline
    def follow(flag: str) -> int:
        return slow(flag)
    """
)


def wait_for(condition: Callable[[], str | None], what: str, seconds: float = 60) -> str:
    give_up_at = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < give_up_at, f"{what} never happened"
        time.sleep(0.05)


def test_a_running_attempt_s_output_can_be_read_before_it_ends(
    tmp_path: Path, settings: dw.Settings
) -> None:
    (tmp_path / "follow.py").write_text(WAITS_FOR_A_FLAG)
    flag = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env["DAGWELL_HOME"] = str(settings.home)
    runner = subprocess.Popen(
        [
            *(sys.executable, "-m", "dagwell.interfaces.cli.main", "run", "follow.py", "-q"),
            *("-p", f"flag={flag}", "--executor", "process"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def running_log() -> str | None:
            runs = dw.list_runs(limit=1, settings=settings)
            task = runs[0].tasks.get("slow") if runs else None
            if task is None or not task.attempts:
                return None
            text = read_log(runs[0].id, "slow", task.attempts[-1], settings) or ""
            return text if "epoch 1 done" in text else None

        live = wait_for(running_log, "the running attempt's log showing its lines")
        assert "loading the data" in live and "all done" not in live

        flag.touch()
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()

    [finished] = dw.list_runs(limit=1, settings=settings)
    attempt = finished.tasks["slow"].attempts[-1]
    ended = read_log(finished.id, "slow", attempt, settings) or ""
    assert "loading the data" in ended and "all done" in ended
    assert attempt.log_path is not None
    assert not os.path.lexists(attempt.log_path + LIVE_SUFFIX), "the live link is removed"


def test_a_live_link_leading_through_another_link_is_not_followed(tmp_path: Path) -> None:
    """Only a worker's own scratch file is read: a planted link in the temporary folder that
    points on to another file leads nowhere."""
    import tempfile

    from dagwell.execution.capture import SCRATCH_PREFIX, live_log_target

    secret = tmp_path / "secret.txt"
    secret.write_text("not a log")
    relay = Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}relay-{os.getpid()}"
    relay.symlink_to(secret)
    try:
        log = tmp_path / "slow.1.log"
        Path(str(log) + LIVE_SUFFIX).symlink_to(relay)
        assert live_log_target(str(log)) is None
    finally:
        relay.unlink()
