"""One example pipeline file, run with the real ``dagwell`` command on the three setups the
README names: the defaults, a temporary Dask cluster, and the team setup (PostgreSQL, S3,
a running Dask cluster), given by environment variables only.

Each setup must end with exit 0, and ``dagwell runs --json`` and ``dagwell show RUN --json``
must read the run back as succeeded.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dagwell_process import dagwell_env, run_dagwell
from dask_cluster import local_cluster
from s3_server import S3Location

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml_demo.py"
PIPELINE = "ml_demo"
FINISHED = re.compile(r"^run ([0-9a-f]{12}) (succeeded|failed) in ", re.MULTILINE)
Cli = Callable[..., subprocess.CompletedProcess[str]]


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def cli_with(folder: Path, variables: Mapping[str, str]) -> Cli:
    """``dagwell ARGS...`` in a subprocess in ``folder``, with only ``variables`` of dagwell's."""
    env = dagwell_env(variables)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_dagwell(folder, env, *args, timeout=180)

    return run


def run_example(cli: Cli, *options: str) -> str:
    """Run the example with ``options``: exit 0, and the id of the run it reported."""
    done = cli("run", str(EXAMPLE), "-q", *options)
    assert done.returncode == 0, outcome(done)
    match = FINISHED.search(done.stdout)
    assert match is not None and match.group(2) == "succeeded", outcome(done)
    return match.group(1)


def read_back(cli: Cli, run_id: str) -> dict[str, Any]:
    """``dagwell runs --json`` lists the run succeeded; ``show --json`` has every node done."""
    listed = cli("runs", "--json")
    assert listed.returncode == 0, outcome(listed)
    runs = {r["id"]: r for r in json.loads(listed.stdout)}
    assert (runs[run_id]["pipeline"], runs[run_id]["status"]) == (PIPELINE, "succeeded")

    shown = cli("show", run_id, "--json")
    assert shown.returncode == 0, outcome(shown)
    found: dict[str, Any] = json.loads(shown.stdout)
    assert (found["id"], found["status"]) == (run_id, "succeeded")
    nodes = {task["node"]: task["status"] for task in found["tasks"]}
    assert set(nodes.values()) == {"succeeded"}, nodes
    assert {"ingest", "preprocess", "split", "pick_best"} <= set(nodes)
    return found


def test_the_defaults_sqlite_a_local_folder_and_a_process_pool(
    tmp_path: Path, run_cli: Cli
) -> None:
    run_id = run_example(run_cli)

    read_back(run_cli, run_id)
    assert (tmp_path / "home" / "dagwell.db").is_file()
    assert (tmp_path / "home" / "artifacts" / "objects").is_dir()


def test_a_temporary_dask_cluster(run_cli: Cli) -> None:
    run_id = run_example(run_cli, "--executor", "dask", "--workers", "2")

    read_back(run_cli, run_id)


@pytest.fixture
def dask_cluster(s3_url: S3Location) -> Iterator[Any]:
    """A running Dask cluster, set up as the README advises; its workers inherit the S3
    variables ``s3_url`` set in this process, as a deployed worker has them."""
    with local_cluster() as cluster:
        yield cluster


def test_the_team_setup_postgres_s3_and_a_running_dask_cluster(
    tmp_path: Path, postgres_url: str, s3_url: S3Location, dask_cluster: Any
) -> None:
    cli = cli_with(
        tmp_path,
        {
            **s3_url.env,  # DAGWELL_ARTIFACTS, DAGWELL_S3_ENDPOINT and the AWS_* credentials
            "DAGWELL_HOME": str(tmp_path / "home"),
            "DAGWELL_DB_URL": postgres_url,
            "DAGWELL_DASK_ADDRESS": dask_cluster.scheduler_address,
        },
    )
    upgraded = cli("db", "upgrade")
    assert upgraded.returncode == 0, outcome(upgraded)
    doctor = cli("doctor")
    assert doctor.returncode == 0, outcome(doctor)

    run_id = run_example(cli, "--executor", "dask")

    read_back(cli, run_id)
    ran_there = list(dask_cluster.scheduler.task_prefixes)  # the attempts it was sent
    assert any("ingest" in prefix for prefix in ran_there), ran_there
    assert not (tmp_path / "home" / "dagwell.db").exists()
    assert not (tmp_path / "home" / "artifacts").exists()
    models = cli("models", "show", "breast_cancer_classifier")
    assert models.returncode == 0, outcome(models)
    assert run_id in models.stdout
