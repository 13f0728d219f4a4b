"""The scheduler daemon inside the web server: ``dagwell ui PATH`` runs both in one process.

The daemon's loop runs on a background thread, started and stopped with the app (it is a
:class:`~dagwell.interfaces.web.app.Service`). Runs still execute in their own processes,
as under ``dagwell scheduler``; stopping waits a short while for them, then leaves them
to finish on their own (each records its own end).
"""

from __future__ import annotations

import logging
import threading

from dagwell.scheduling.daemon import Scheduler

log = logging.getLogger(__name__)


class SchedulerThread:
    """Drive ``scheduler`` (already started: lock taken, pipelines registered) on a thread.

    >>> scheduler = Scheduler(["pipelines/"], settings=settings)
    >>> scheduler.start()
    >>> app = create_app(settings, open_mode=True, services=[SchedulerThread(scheduler)])
    """

    def __init__(self, scheduler: Scheduler, *, grace: float = 10.0) -> None:
        self.scheduler = scheduler
        self.grace = grace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking on a daemon thread."""
        self._thread = threading.Thread(
            target=self.scheduler.serve, args=(self._stop,), name="dagwell-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking, wait up to ``grace`` seconds for the runs in progress, release the
        scheduler's lock. Runs still going on then finish in their own processes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        running = len(self.scheduler.children)
        if running:
            log.info("waiting up to %g s for %d run(s) in progress", self.grace, running)
        self.scheduler.shutdown(cancel=False, wait=self.grace)

    @property
    def alive(self) -> bool:
        """Whether the loop is running."""
        return self._thread is not None and self._thread.is_alive()
