"""``dagwell ui`` as a user runs it: a server process over a pipeline file, driven over HTTP.

The server runs in its own session (so a test can stop it and every run it started at
once), records into a DAGWELL_HOME in tmp_path, and is asked over HTTP with httpx. Tests
poll with a deadline instead of sleeping.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dagwell_process import dagwell_env, free_port, until

pytestmark = pytest.mark.e2e

FLOWS = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def double(n: int) -> int:
        print("doubling", n)
        return 2 * n


    @dw.pipeline
    def on_demand(n: int = 1) -> int:
        return double(n)
    """
)


DAGWELL = [sys.executable, "-m", "dagwell.interfaces.cli.main"]


def environment(tmp_path: Path) -> dict[str, str]:
    return dagwell_env({"DAGWELL_HOME": str(tmp_path / "home")})


@contextlib.contextmanager
def serving(
    tmp_path: Path, *args: str
) -> Iterator[tuple[httpx.Client, subprocess.Popen[str], Path]]:
    """``dagwell ui ARGS... --port P`` running; a client for it; its output file."""
    port = free_port()
    output = tmp_path / "ui.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [*DAGWELL, "ui", *args, "--port", str(port)],
            cwd=tmp_path,
            env=environment(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {output.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            return client.get("/api/v1/health").status_code == 200
        return False

    try:
        until(healthy, timeout=30)
        yield client, process, output
    finally:
        client.close()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[str], Path]]:
    """``dagwell ui flows.py`` with the inline executor."""
    (tmp_path / "flows.py").write_text(FLOWS)
    with serving(tmp_path, "flows.py", "--executor", "inline") as running:
        yield running


def test_health_answers_and_says_open(server: tuple[httpx.Client, Any, Path]) -> None:
    client, _, output = server
    health = client.get("/api/v1/health")
    assert health.json() == {
        "status": "ok",
        "version": health.json()["version"],
        "open": True,
        "scheduler": True,
    }
    assert health.headers["x-dagwell-access"] == "open"
    assert "open: no users" in output.read_text()


def test_a_triggered_run_is_executed_by_the_scheduler_in_the_server(
    server: tuple[httpx.Client, subprocess.Popen[str], Path],
) -> None:
    client, process, output = server
    pipelines = until(lambda: client.get("/api/v1/pipelines").json())
    assert [p["name"] for p in pipelines] == ["on_demand"]
    answer = client.post("/api/v1/pipelines/on_demand/runs", json={"params": {"n": 21}})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]

    def finished() -> dict[str, Any] | None:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        return run if run["status"] in ("succeeded", "failed", "cancelled") else None

    run = until(finished)
    assert run["status"] == "succeeded", output.read_text()
    assert run["tasks"][0]["outputs"]["return"]["inline"] == 42
    assert client.get(f"/api/v1/runs/{run_id}/logs/double").text == "doubling 21\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert f"run {run_id} of on_demand succeeded" in output.read_text()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_a_non_loopback_address_without_users_is_refused(tmp_path: Path, host: str) -> None:
    done = subprocess.run(
        [*DAGWELL, "ui", "--host", host, "--port", str(free_port())],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"refusing to serve on {host} with no users" in done.stderr
    assert "dagwell users add" in done.stderr


def test_with_users_it_serves_any_address_and_is_not_open(tmp_path: Path) -> None:
    added = subprocess.run(
        [*DAGWELL, "users", "add", "ada", "--role", "admin", "--no-password"],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    with serving(tmp_path, "--host", "0.0.0.0") as (client, _, output):
        health = client.get("/api/v1/health")
        assert health.json()["open"] is False
        assert "x-dagwell-access" not in health.headers
        assert client.get("/api/v1/runs").status_code == 401
        assert "sign-in required" in output.read_text()


def test_with_a_user_on_any_address_people_sign_in_and_scripts_use_tokens(
    tmp_path: Path,
) -> None:
    def dagwell(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*DAGWELL, *args],
            cwd=tmp_path,
            env=environment(tmp_path),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done

    dagwell("users", "add", "ada", "--role", "admin", "--password-stdin", stdin="ada's secret\n")
    dagwell("users", "add", "vic", "--role", "viewer", "--no-password")
    token = dagwell("tokens", "create", "vic").stdout.strip()
    with serving(tmp_path, "--host", "0.0.0.0") as (client, _, output):
        assert "sign-in required" in output.read_text()
        assert client.get("/api/v1/me").status_code == 401
        page = client.get("/runs?status=failed")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/runs%3Fstatus%3Dfailed"

        form = client.get("/login")
        assert form.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found is not None
        fields = {"name": "ada", "csrf_token": found[1], "next": "/runs"}
        wrong = client.post("/login", data={**fields, "password": "not it at all"})
        assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
        signed = client.post("/login", data={**fields, "password": "ada's secret"})
        assert signed.status_code == 303 and signed.headers["location"] == "/runs"
        assert "dagwell_session" in client.cookies
        assert client.get("/api/v1/me").json()["name"] == "ada"
        # A change made with the cookie alone, as another site could make it, is refused.
        assert client.post("/api/v1/runs/nosuchrun/cancel").status_code == 403
        runs = client.get("/runs")
        assert runs.status_code == 200 and "ada" in runs.text
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', runs.text)
        assert meta is not None  # the pages put the session's token in every form
        assert f'name="csrf_token" value="{meta[1]}"' in runs.text
        out = client.post("/logout", data={"csrf_token": meta[1]})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert client.get("/api/v1/me").status_code == 401

        script = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=script).json()["role"] == "viewer"
        refused = client.post("/api/v1/runs/nosuchrun/cancel", headers=script)
        assert refused.status_code == 403 and "may not cancel" in refused.json()["error"]

    log = dagwell("audit", "--json").stdout
    assert '"login"' in log and '"denied"' in log


def test_an_open_server_refuses_requests_for_another_host_name(
    server: tuple[httpx.Client, Any, Path],
) -> None:
    """A page elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding) is refused."""
    client, _, _ = server

    rebound = client.post(
        "/api/v1/pipelines/hello/runs", json={"params": {}}, headers={"Host": "attacker.example"}
    )
    local = client.get("/api/v1/health", headers={"Host": "localhost:8765"})

    assert rebound.status_code == 400
    assert local.status_code == 200
