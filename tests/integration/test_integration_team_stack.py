"""What a user relies on, on the two setups dagwell is meant for, one test run on each.

- ``local``: SQLite, a local artifact folder and the process executor (the defaults).
- ``team``: PostgreSQL (a fresh database on the session's throwaway server), S3 (a fresh
  bucket on the session's moto server) and the Dask executor on a running cluster joined
  by address (a LocalCluster of the module: 2 one-thread worker processes).

On ``team`` the settings are given in Python only: the S3 endpoint is in ``Settings``,
not in ``DAGWELL_S3_ENDPOINT``, so it must reach the workers with each attempt. The Dask
workers get the S3 credentials in their environment, as a deployed worker would.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pipelines_for_team_stack as team
import pipelines_for_tests as p
import pytest

import dagwell as dw
from dagwell.execution.attempt import read_log
from dask_cluster import local_cluster
from s3_server import S3Location, S3Server


@dataclass(frozen=True)
class Stack:
    """Where a test's runs are recorded, and what runs their tasks."""

    name: str
    settings: dw.Settings
    executor: str

    def run(self, pipeline: dw.Pipeline, params: dict[str, Any] | None = None) -> dw.Run:
        return dw.run(pipeline, params, executor=self.executor, workers=2, settings=self.settings)

    def resume(self, run_id: str) -> dw.Run:
        return dw.resume(run_id, executor=self.executor, workers=2, settings=self.settings)


@pytest.fixture(scope="module")
def cluster(s3_server: S3Server) -> Iterator[Any]:
    """A LocalCluster of 2 one-thread worker processes, set up as dagwell advises.

    The workers have the S3 credentials but no ``DAGWELL_S3_ENDPOINT``.
    """
    with local_cluster(env={**s3_server.credentials, "DAGWELL_S3_ENDPOINT": ""}) as cluster:
        yield cluster


@pytest.fixture(params=["local", "team"])
def stack(
    request: pytest.FixtureRequest,
    settings: dw.Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Stack:
    if request.param == "local":
        return Stack("local", settings, "process")
    postgres_url: str = request.getfixturevalue("postgres_url")
    s3_url: S3Location = request.getfixturevalue("s3_url")
    cluster = request.getfixturevalue("cluster")
    monkeypatch.delenv("DAGWELL_S3_ENDPOINT")  # the settings alone say where S3 is
    on_team = replace(
        dw.Settings.from_env({}, home=tmp_path / "home", db_url=postgres_url),
        artifacts_url=s3_url.url,
        s3_endpoint=s3_url.endpoint,
        dask_address=cluster.scheduler_address,
    )
    return Stack("team", on_team, "dask")


def statuses(run: dw.Run) -> dict[str, str]:
    return {node: task.status.value for node, task in run.tasks.items()}


def test_a_successful_run_records_params_outputs_and_result(stack: Stack) -> None:
    run = stack.run(p.basic, {"n": 5})

    assert run.status == "succeeded"
    assert dict(run.params) == {"n": 5, "factor": 2.0}
    assert set(statuses(run).values()) == {"succeeded"}
    assert run.output("numbers") == [1, 2, 3, 4, 5]
    assert run.output("split", "odds") == [1, 3, 5]
    assert run.result() == {"evens": 6, "odds": 9, "scaled": 30.0}
    again = dw.get_run(run.id[:6], settings=stack.settings)
    assert again.status == "succeeded" and again.result() == run.result()
    assert [r.id for r in dw.list_runs(settings=stack.settings)] == [run.id]


def test_a_task_failing_twice_succeeds_on_its_third_attempt(stack: Stack, tmp_path: Path) -> None:
    run = stack.run(p.flaky_then_fine, {"counter": str(tmp_path / "calls")})

    assert run.status == "succeeded"
    assert run.result() == 3
    attempts = run.tasks["fails_twice"].attempts
    assert [(a.number, a.status) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert "RuntimeError: failure number 1" in (attempts[0].error or "")
    assert "RuntimeError: failure number 2" in (attempts[1].error or "")


def test_a_timeout_fails_the_attempt_the_run_goes_on_and_the_retry_succeeds(
    stack: Stack, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = stack.run(team.times_out_once, {"counter": str(tmp_path / "calls")})

    assert run.status == "succeeded"
    assert run.result() == "quick the second time, done meanwhile"
    first, second = run.tasks["slow_first_time"].attempts
    assert first.status == "failed"
    assert "TaskTimeoutError" in (first.error or "")
    assert second.status == "succeeded"
    assert run.tasks["meanwhile"].status == "succeeded"
    assert time.monotonic() - started < 40  # not the 60 s the first attempt would sleep


def test_an_identical_run_is_served_from_the_cache_and_a_changed_param_runs_again(
    stack: Stack, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"
    params = {"x": 1, "counter": str(counter)}
    first = stack.run(p.cached_pipeline, params)
    second = stack.run(p.cached_pipeline, params)

    assert first.tasks["expensive"].status == "succeeded"
    assert second.tasks["expensive"].status == "cached"
    assert second.result() == 100 and counter.read_text() == "1"
    (hit,) = dw.why(second.id, "expensive", settings=stack.settings)
    assert hit.startswith("cache hit") and first.id in hit

    third = stack.run(p.cached_pipeline, {**params, "x": 2})
    assert third.tasks["expensive"].status == "succeeded" and counter.read_text() == "2"
    assert third.result() == 200
    (miss,) = dw.why(third.id, "expensive", settings=stack.settings)
    assert "cache miss" in miss and "args[0]" in miss


def test_a_failed_run_resumed_reuses_what_succeeded_and_runs_the_rest(
    stack: Stack, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    failed = stack.run(p.mapped_until_fixed, {"flag": str(flag)})
    assert failed.status == "failed"
    assert failed.tasks["fails_until_fixed[1]"].status == "failed"  # the item x == 2

    flag.touch()
    resumed = stack.resume(failed.id)

    assert resumed.status == "succeeded"
    assert resumed.parent_run_id == failed.id
    assert resumed.result() == [10, 20, 30, 40]
    got = statuses(resumed)
    assert got["numbers"] == "reused"
    assert [got[f"fails_until_fixed[{i}]"] for i in range(4)] == [
        "reused",
        "succeeded",
        "reused",
        "reused",
    ]
    assert dw.get_run(failed.id, settings=stack.settings).status == "failed"


def test_the_logs_of_each_attempt_read_back(stack: Stack) -> None:
    run = stack.run(p.noisy)
    assert run.status == "succeeded"
    if stack.name == "team":
        shutil.rmtree(stack.settings.logs_dir)  # as on another machine: the store's copy

    def log_of(node: str) -> str:
        text = read_log(run.id, node, run.tasks[node].attempts[-1], stack.settings)
        assert text is not None, node
        return text

    chatty = log_of("chatty")
    for line in ("to stdout", "to stderr", "through logging"):
        assert line in chatty
    shout = log_of("shout")
    assert "shell says hi" in shout and "shell complains hi" in shout


def test_a_model_logged_by_a_task_loads_back(stack: Stack, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a\nb\nc\n")
    run = stack.run(p.dataset_to_model, {"path": str(data)})

    assert run.status == "succeeded"
    version = dw.models.get("row_model", settings=stack.settings)
    assert version.run_id == run.id
    assert dw.models.load("row_model", settings=stack.settings) == {
        "rows": 3,
        "weights": [0, 1, 2],
    }


def test_process_workers_get_the_s3_endpoint_from_the_settings_too(
    settings: dw.Settings, s3_url: S3Location, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 with the process pool, the endpoint in ``Settings`` only: workers inherit no
    ``DAGWELL_S3_ENDPOINT``, and still write outputs and models to the test server."""
    monkeypatch.delenv("DAGWELL_S3_ENDPOINT")
    on_s3 = replace(settings, artifacts_url=s3_url.url, s3_endpoint=s3_url.endpoint)
    data = tmp_path / "rows.csv"
    data.write_text("a\nb\n")

    run = dw.run(p.dataset_to_model, {"path": str(data)}, executor="process", settings=on_s3)

    assert run.status == "succeeded", run.tasks
    assert run.result() == {"rows": 2}
    assert dw.models.load("row_model", settings=on_s3) == {"rows": 2, "weights": [0, 1]}
