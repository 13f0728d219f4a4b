"""The real ``dagwell`` command as a subprocess, as the end-to-end tests run it.

Each gets an environment made by :func:`dagwell_env`: this process's, without any
``DAGWELL_`` variable (so a developer's own settings never leak in), plus the ones the test
gives, usually ``DAGWELL_HOME`` in its tmp_path. :func:`run_dagwell` waits for the command;
:func:`start_dagwell` leaves it running; :func:`free_port` and :func:`until` help wait for a
server it starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DAGWELL = [sys.executable, "-m", "dagwell.interfaces.cli.main"]
"""The command line of ``dagwell``, from this interpreter's installation."""


def dagwell_env(variables: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``variables`` as its only ``DAGWELL_`` ones.

    >>> dagwell_env({"DAGWELL_HOME": str(tmp_path / "home")})["DAGWELL_HOME"]
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env.update(variables)
    return env


def run_dagwell(
    folder: Path,
    env: Mapping[str, str],
    *args: str,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``dagwell ARGS...`` in ``folder`` and wait: its exit code, stdout and stderr.

    >>> run_dagwell(tmp_path, dagwell_env({"DAGWELL_HOME": str(home)}), "runs").returncode
    0
    """
    return subprocess.run(
        [*DAGWELL, *args],
        cwd=folder,
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_dagwell(
    folder: Path, env: Mapping[str, str], *args: str, capture: bool = True
) -> subprocess.Popen[str]:
    """Start ``dagwell ARGS...`` in ``folder`` in the background; its output is piped, or
    dropped without ``capture``.

    >>> process = start_dagwell(tmp_path, dagwell_env({"DAGWELL_HOME": str(home)}), "run", "f.py")
    """
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [*DAGWELL, *args],
        cwd=folder,
        env=dict(env),
        stdout=output,
        stderr=output,
        text=True,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.2) -> Any:
    """Call ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {check}")
        time.sleep(every)
