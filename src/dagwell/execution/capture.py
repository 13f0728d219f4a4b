"""Per-attempt log capture: stdout, stderr and ``logging`` output into one file.

In worker processes file descriptors 1 and 2 are redirected, so the output of C extensions
and child processes (shell tasks) is captured too. Inline, only the Python-level streams
are, so the caller's terminal is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def captured_output(log_path: str | None, *, fd_level: bool) -> Iterator[None]:
    """Send everything the attempt prints or logs to ``log_path`` (nothing if None)."""
    if log_path is None:
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", buffering=1, encoding="utf-8", errors="replace") as log_file:
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(logging.Formatter(_FORMAT))
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        try:
            if fd_level:
                with _fds_redirected(log_file.fileno()):
                    yield
            else:
                with contextlib.redirect_stdout(log_file), contextlib.redirect_stderr(log_file):
                    yield
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)


@contextlib.contextmanager
def _fds_redirected(target_fd: int) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(target_fd, 1)
        os.dup2(target_fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
