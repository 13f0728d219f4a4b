"""Pools from the command line: ``dagwell pool ...``, and runs in separate processes sharing one.

Two ``dagwell run`` processes record into one DAGWELL_HOME; their tasks write when they ran
into files, and at no moment may more tasks of a pool run than it has slots.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagwell_process import dagwell_env, start_dagwell

pytestmark = pytest.mark.e2e

RunCli = Callable[..., subprocess.CompletedProcess[str]]

GPU_PIPELINE = """
import os
import time
from pathlib import Path

import dagwell as dw


@dw.task(pool="gpu")
def on_gpu(folder: str, name: str) -> str:
    start = time.time()
    time.sleep(0.3)
    Path(folder, name).write_text(f"{start} {time.time()}")
    return name


@dw.task(pool="gpu")
def hold(flag: str) -> int:
    while not os.path.exists(flag):
        time.sleep(0.05)
    return 1


@dw.task(pool="nowhere")
def lost() -> int:
    return 1


@dw.pipeline
def three_on_gpu(folder: str = "", tag: str = ""):
    return [on_gpu(folder, f"{tag}{i}") for i in range(3)]


@dw.pipeline
def holds_gpu(flag: str = ""):
    return hold(flag)


@dw.pipeline
def missing_pool():
    return lost()
"""


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``dagwell ARGS`` in the background, like ``run_cli`` but without waiting."""
    return start_dagwell(tmp_path, dagwell_env({"DAGWELL_HOME": str(tmp_path / "home")}), *args)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in edges:  # at equal times an end (-1) sorts first: touching is not overlap
        running += step
        most = max(most, running)
    return most


def pools(run_cli: RunCli) -> list[dict[str, Any]]:
    done = run_cli("pool", "list", "--json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_two_runs_in_two_processes_share_a_one_slot_pool(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "gpu.py").write_text(GPU_PIPELINE)
    spans = tmp_path / "spans"
    spans.mkdir()
    assert run_cli("pool", "set", "gpu", "1").returncode == 0

    args = ["run", "gpu.py:three_on_gpu", "-q", "--workers", "3", "-p", f"folder={spans}"]
    runs = [start(tmp_path, *args, "-p", f"tag={tag}") for tag in ("a", "b")]
    outputs = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    found = {p.name: p.read_text().split() for p in spans.iterdir()}
    assert sorted(found) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert most_at_once([(float(start), float(end)) for start, end in found.values()]) == 1
    recorded = json.loads(run_cli("runs", "--json").stdout)
    assert [r["status"] for r in recorded] == ["succeeded", "succeeded"]
    assert pools(run_cli)[0]["in_use"] == 0


def test_ctrl_c_gives_back_the_slots_and_a_pool_in_use_cannot_be_deleted(
    tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "gpu.py").write_text(GPU_PIPELINE)
    assert run_cli("pool", "set", "gpu", "1").returncode == 0
    runner = start(tmp_path, "run", "gpu.py:holds_gpu", "-q", "-p", f"flag={tmp_path / 'go'}")
    try:
        give_up_at = time.monotonic() + 30
        while pools(run_cli)[0]["in_use"] == 0:
            assert time.monotonic() < give_up_at, "the run never took the slot"
            time.sleep(0.1)
        refused = run_cli("pool", "delete", "gpu")
        assert refused.returncode == 2
        assert "pool 'gpu' is in use (node 'hold' of run" in refused.stderr
    finally:
        runner.send_signal(signal.SIGINT)
        runner.communicate(timeout=30)

    assert runner.returncode == 130
    (gpu,) = pools(run_cli)
    assert (gpu["in_use"], gpu["leases"]) == (0, [])
    assert json.loads(run_cli("runs", "--json").stdout)[0]["status"] == "cancelled"


def test_pool_set_list_delete(run_cli: RunCli) -> None:
    made = run_cli("pool", "set", "gpu", "2", "--description", "two A100s")
    assert made.returncode == 0, made.stderr
    assert "pool gpu: 2 slots (0 in use)" in made.stdout
    assert run_cli("pool", "set", "gpu", "1").returncode == 0

    listed = run_cli("pool", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["gpu", "1", "0", "-", "two", "A100s"]
    (gpu,) = pools(run_cli)
    assert (gpu["name"], gpu["slots"], gpu["in_use"], gpu["description"]) == (
        "gpu",
        1,
        0,
        "two A100s",
    )

    assert run_cli("pool", "delete", "gpu").returncode == 0
    assert pools(run_cli) == []
    missing = run_cli("pool", "delete", "gpu")
    assert missing.returncode == 3
    assert "no pool named 'gpu'" in missing.stderr


@pytest.mark.parametrize(
    ("slots", "message"),
    [("0", "slots must be an int >= 1, got 0"), ("-1", "slots must be an int >= 1, got -1"),
     ("two", "'two' is not a valid integer")],
)  # fmt: skip
def test_pool_set_refuses_bad_slots(run_cli: RunCli, slots: str, message: str) -> None:
    done = run_cli("pool", "set", "--", "gpu", slots)  # "--": "-1" is no option

    assert done.returncode == 2
    assert message in done.stderr


def test_a_task_in_an_unknown_pool_exits_2_before_anything_is_recorded(
    tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "gpu.py").write_text(GPU_PIPELINE)

    done = run_cli("run", "gpu.py:missing_pool", "-q")

    assert done.returncode == 2
    assert "node 'lost' runs in pool 'nowhere', which does not exist" in done.stderr
    assert "dagwell pool set nowhere" in done.stderr
    assert json.loads(run_cli("runs", "--json").stdout) == []
