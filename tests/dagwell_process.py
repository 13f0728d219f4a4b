"""The real ``dagwell`` command as a subprocess, as the end-to-end tests run it.

Each gets an environment made by :func:`dagwell_env`: this process's, without any
``DAGWELL_`` variable (so a developer's own settings never leak in), plus the ones the test
gives, usually ``DAGWELL_HOME`` in its tmp_path. :func:`run_dagwell` waits for the command;
:func:`start_dagwell` leaves it running.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

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
