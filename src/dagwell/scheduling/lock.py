"""One scheduler per SQLite database, enforced with an operating-system file lock.

SQLite has one writer at a time and no row locks to claim work with, so a second daemon on
the same database is refused with a message naming the first. On PostgreSQL several
daemons may run: they claim runs with ``FOR UPDATE SKIP LOCKED`` instead.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from dagwell.errors import DagwellError


class SchedulerLock:
    """The lock file beside a SQLite database; a no-op for other databases.

    >>> lock = SchedulerLock("sqlite:///.dagwell/dagwell.db")
    >>> lock.acquire()   # raises DagwellError when another scheduler holds it
    >>> lock.release()
    """

    def __init__(self, db_url: str) -> None:
        self.path = _lock_path(db_url)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`DagwellError` naming the scheduler that holds it."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 (held open for the daemon's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            handle.close()
            raise DagwellError(
                f"another scheduler ({holder}) is running on this SQLite database; only one "
                "may run on SQLite. Stop it first, or use PostgreSQL (DAGWELL_DB_URL) to run "
                "several"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._file = handle

    def held_elsewhere(self) -> bool | None:
        """Whether another process holds the lock now; None when it cannot tell (PostgreSQL).

        >>> SchedulerLock(settings.db_url).held_elsewhere()
        False
        """
        if self.path is None:
            return None
        if not self.path.exists():
            return False
        with open(self.path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def release(self) -> None:
        """Let another scheduler start."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _lock_path(db_url: str) -> Path | None:
    if not db_url.startswith("sqlite"):
        return None
    _, _, database = db_url.partition(":///")
    if not database or database.startswith(":memory:"):
        return None
    return Path(database.split("?", 1)[0] + ".scheduler.lock")
