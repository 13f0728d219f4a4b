"""Per-attempt log capture: stdout, stderr and ``logging`` output into one file per attempt.

In worker processes, file descriptors 1 and 2 point for the worker's whole life at one
scratch file, so the output of C extensions and child processes (shell tasks) is captured
too. Each attempt empties the scratch file first and copies it to the attempt's log when it
ends, only if something was written. While it runs, a symbolic link beside the log
(``NODE.ATTEMPT.log.live``) points at the scratch file, so ``dagwell logs`` and the web UI
can follow the output of a running attempt (:func:`live_log_target`). Inline, only the
Python-level streams are redirected, straight into the log, so the caller's terminal is
left alone.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SCRATCH_PREFIX = "dagwell-log-"
LIVE_SUFFIX = ".live"
"""Appended to an attempt's log path: the link to the scratch file of a running attempt."""
_scratch_fd: int | None = None
_scratch_path: str | None = None


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
    live = _link_live(log_path)
    try:
        yield
    finally:
        _flush()
        size = os.fstat(fd).st_size
        if size:
            _copy_out(fd, size, log_path)
        if live is not None:  # after the copy: a reader always finds one or the other
            with contextlib.suppress(OSError):
                os.unlink(live)


def _scratch() -> int:
    """Point fds 1 and 2 at a scratch file, once per process, with a logging handler."""
    global _scratch_fd, _scratch_path
    if _scratch_fd is None:
        _flush()
        fd, path = tempfile.mkstemp(prefix=SCRATCH_PREFIX)
        atexit.register(_remove, path)  # a killed worker leaves it in the temp folder
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        for stream in (sys.stdout, sys.stderr):  # line by line, so a follower sees it
            with contextlib.suppress(Exception):
                stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        _scratch_fd, _scratch_path = fd, path
    return _scratch_fd


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _link_live(log_path: str) -> str | None:
    """Link ``LOG.live`` to the scratch file for the attempt's duration (None if it can't).

    The log folder may be on another machine than a Dask worker: then there is no link,
    and the log is seen when the attempt ends.
    """
    link = log_path + LIVE_SUFFIX
    target = _scratch_path
    if target is None:
        return None
    for _ in range(2):
        try:
            os.symlink(target, link)
            return link
        except FileExistsError:  # left by a killed worker: replace it
            _remove(link)
        except FileNotFoundError:
            try:
                Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                return None
        except OSError:
            return None
    return None


def live_log_target(log_path: str) -> str | None:
    """The scratch file a running attempt writes its log to, or None once it has ended.

    Only a link that points at a worker's scratch file in the temporary folder counts, so
    following it can never read anything else.
    """
    try:
        target = os.readlink(log_path + LIVE_SUFFIX)
    except OSError:
        return None
    # The file itself, not another link: a link in the temporary folder could lead anywhere.
    real = os.path.realpath(target)
    folder, name = os.path.split(real)
    if not name.startswith(SCRATCH_PREFIX) or folder != os.path.realpath(tempfile.gettempdir()):
        return None
    return real


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
