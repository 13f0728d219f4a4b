"""Per-attempt log capture: stdout, stderr and ``logging`` output into one file per attempt.

In worker processes, file descriptors 1 and 2 point for the worker's whole life at one
scratch file, so the output of C extensions and child processes (shell tasks) is captured
too. Each attempt empties the scratch file first and copies it to the attempt's log when it
ends, only if something was written: a quiet task costs no file at all. Inline, only the
Python-level streams are redirected, so the caller's terminal is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_scratch_fd: int | None = None


@contextlib.contextmanager
def captured_output(log_path: str | None, *, fd_level: bool) -> Iterator[None]:
    """Send everything the attempt prints or logs to ``log_path`` (nothing if None)."""
    if log_path is None:
        yield
    elif fd_level:
        with _scratch_captured(log_path):
            yield
    else:
        with _streams_captured(log_path):
            yield


@contextlib.contextmanager
def _scratch_captured(log_path: str) -> Iterator[None]:
    fd = _scratch()
    _flush()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        yield
    finally:
        _flush()
        size = os.fstat(fd).st_size
        if size:
            _copy_out(fd, size, log_path)


def _scratch() -> int:
    """Point fds 1 and 2 at a scratch file, once per process, with a logging handler."""
    global _scratch_fd
    if _scratch_fd is None:
        _flush()
        fd, path = tempfile.mkstemp(prefix="dagwell-log-")
        os.unlink(path)  # the file lives as long as the worker holds it open
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        _scratch_fd = fd
    return _scratch_fd


def _copy_out(fd: int, size: int, log_path: str) -> None:
    """Append the scratch file to the attempt's log; a log that can't be written is lost.

    The path is on the runner's machine; a worker elsewhere (a Dask cluster) may be
    unable to create it, and that must not fail the attempt.
    """
    try:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            offset = 0
            while offset < size:
                chunk = os.pread(fd, min(size - offset, 1 << 20), offset)
                if not chunk:
                    break
                out.write(chunk)
                offset += len(chunk)
    except OSError as exc:
        logging.getLogger(__name__).warning("the attempt's log %s is lost: %s", log_path, exc)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


@contextlib.contextmanager
def _streams_captured(log_path: str) -> Iterator[None]:
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
            with contextlib.redirect_stdout(log_file), contextlib.redirect_stderr(log_file):
                yield
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
