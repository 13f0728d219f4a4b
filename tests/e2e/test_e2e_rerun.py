"""dagwell rerun: the stored code, params and dataset versions, and a per-node verdict."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

PIPELINE = textwrap.dedent(
    """
    import random

    import dagwell as dw
    import helpers


    @dw.task
    def load(path: str) -> list[str]:
        with open(path) as f:
            return f.read().split()


    @dw.task
    def shout(words: list[str]) -> list[str]:
        return [helpers.transform(w) for w in words]


    @dw.task
    def noise(words: list[str], noisy: bool) -> float:
        return random.random() if noisy else 0.5


    @dw.pipeline
    def words(path: str = "words.txt", snapshot: bool = False, noisy: bool = False):
        loaded = load(dw.dataset(path, snapshot=snapshot))
        return {"shouted": shout(loaded), "noise": noise(loaded, noisy)}
    """
)


def write_project(folder: Path) -> None:
    (folder / "words.py").write_text(PIPELINE)
    (folder / "helpers.py").write_text("def transform(word):\n    return word.upper()\n")
    (folder / "words.txt").write_text("alpha beta\n")


def last_run(run_cli: Any) -> dict[str, Any]:
    runs = json.loads(run_cli("runs", "--json", "--limit", "1").stdout)
    return runs[0]


def test_a_rerun_uses_the_stored_code_and_reports_every_output_matching(
    tmp_path: Path, run_cli: Any
) -> None:
    write_project(tmp_path)
    assert run_cli("run", "words.py", "-q").returncode == 0
    original = last_run(run_cli)["id"]
    (tmp_path / "helpers.py").write_text("def transform(word):\n    return word.lower()\n")

    done = run_cli("rerun", original, "-q")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced: every output matches" in done.stdout
    again = json.loads(run_cli("show", last_run(run_cli)["id"], "--json").stdout)
    shout = next(t for t in again["tasks"] if t["node"] == "shout")
    original_shout = next(
        t
        for t in json.loads(run_cli("show", original, "--json").stdout)["tasks"]
        if t["node"] == "shout"
    )
    assert shout["outputs"]["return"]["hash"] == original_shout["outputs"]["return"]["hash"]


def test_a_nondeterministic_node_is_reported_and_the_exit_code_is_1(
    tmp_path: Path, run_cli: Any
) -> None:
    write_project(tmp_path)
    assert run_cli("run", "words.py", "-p", "noisy=true", "-q").returncode == 0
    original = last_run(run_cli)["id"]

    done = run_cli("rerun", original, "-q")

    assert done.returncode == 1
    assert "NOT reproduced" in done.stdout
    assert "noise" in done.stdout and "different" in done.stdout


def test_a_changed_dataset_without_snapshot_is_refused_and_with_one_is_restored(
    tmp_path: Path, run_cli: Any
) -> None:
    write_project(tmp_path)
    (tmp_path / "kept.txt").write_text("delta epsilon\n")
    assert run_cli("run", "words.py", "-q").returncode == 0
    plain = last_run(run_cli)["id"]
    assert run_cli("run", "words.py", "-p", "path=kept.txt", "-p", "snapshot=true").returncode == 0
    kept = last_run(run_cli)["id"]
    (tmp_path / "words.txt").write_text("gamma\n")
    (tmp_path / "kept.txt").write_text("zeta\n")

    refused = run_cli("rerun", plain, "-q")
    restored = run_cli("rerun", kept, "-q")

    assert refused.returncode == 2
    assert "changed since run" in refused.stderr and "Traceback" not in refused.stderr
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "reproduced: every output matches" in restored.stdout
