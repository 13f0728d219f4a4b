"""Fixtures shared by every test: a private DAGWELL_HOME, the CLI as a subprocess, PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import hypothesis
import pytest

import dagwell as dw
from dagwell_process import dagwell_env, run_dagwell

# The PostgreSQL fixtures (postgres_server, postgres_url), from tests/postgres_server.py,
# the S3 ones (s3_server, s3_url), from tests/s3_server.py, and a Dask LocalCluster
# (dask_cluster), from tests/dask_cluster.py.
pytest_plugins = ["postgres_server", "s3_server", "dask_cluster"]

# In-process integration tests import their pipelines from this folder by module name, and
# process-executor workers get the caller's sys.path, so put it there once, for both.
_INTEGRATION = str(Path(__file__).parent / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)


# Some tests press Ctrl-C on a CLI subprocess (SIGINT). A shell that starts pytest in the
# background makes it ignore SIGINT, and subprocesses inherit that; a handler of our own is
# reset to the default in them, so they stop on Ctrl-C as they would in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# `pytest --hypothesis-profile=thorough` tries many more examples per property test: run it
# after changing code that a property test covers, since CI draws fresh examples each time.
hypothesis.settings.register_profile("thorough", max_examples=5000, deadline=None)


@pytest.fixture
def settings(tmp_path: Path) -> dw.Settings:
    """Settings whose database, artifacts and logs all live in this test's tmp_path."""
    return dw.Settings.from_env({}, home=tmp_path / "home")


RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run ``dagwell ARGS...`` in a subprocess, in tmp_path, with DAGWELL_HOME in tmp_path."""
    env = dagwell_env({"DAGWELL_HOME": str(tmp_path / "home")})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_dagwell(tmp_path, env, *args)

    return run
