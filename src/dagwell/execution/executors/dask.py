"""DaskExecutor: runs calls as futures on a Dask ``distributed`` cluster (the ``dask`` extra).

The executor is thin on purpose. Dask schedules calls, ships them to workers, matches
resources, and restarts workers that die (the nanny). This module only bridges each Dask
future to the :class:`concurrent.futures.Future` the runner waits on, turns Dask's ways of
failing into dagwell's errors, and enforces timeouts, which Dask does not have. Each call
travels as cloudpickle bytes, unpickled only on the worker: the scheduler unpickles task
graphs, and must not need the user's modules. Data never travels through Dask: a call's
arguments and result are the attempt's spec and outcome, which hold references into the
artifact store.

How a timeout works. A call with a timeout starts by logging a start event on its worker
(``Worker.log_event``); the client subscribes to those events, and each starts a timer in
the client's event loop. When the timer fires before the call has finished, its Dask
future is cancelled and its worker restarted (``Client.restart_workers``, through the
worker's nanny): a running Python thread cannot be stopped any other way. Only then does
the call's future fail with TaskTimeoutError, so that a retry submitted at once cannot land
on the worker being restarted, and die with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import importlib
import logging
import os
import pickle
import re
import sys
import threading
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import cloudpickle
import dask
import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from dagwell.errors import (
    DefinitionError,
    SerializationError,
    TaskError,
    TaskTimeoutError,
    WorkerDiedError,
)
from dagwell.execution.executors.base import describe_call

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping
    from types import TracebackType

T = TypeVar("T")
log = logging.getLogger(__name__)

STARTED_TOPIC = "dagwell-call-started"
"""The Dask event topic on which a call with a timeout announces that it started."""
_CONNECT_TIMEOUT = "10s"
_RESTART_TIMEOUT = 30.0  # seconds a nanny gets to restart a worker after a timeout
# Scheduler settings of a LocalCluster the executor starts itself.
_LOCAL_CLUSTER_CONFIG = {
    # A worker that dies fails its call at once (KilledWorker) instead of Dask running it
    # again unseen: dagwell retries it itself, as a new attempt it records.
    "distributed.scheduler.allowed-failures": 0,
    # One call per worker thread, none queued behind it on the worker: a worker that dies
    # takes down only the call it was running.
    "distributed.scheduler.worker-saturation": 1.0,
}


@dataclass(eq=False)
class _Job:
    """One submitted call: its future, its Dask key, and its timeout's state."""

    future: cf.Future[Any]
    key: str
    name: str
    timeout: float | None
    dask_future: distributed.Future[Any] | None = None
    worker: str | None = None  # where it runs, once it reported its start
    timer: object | None = None  # the event loop's handle of the timeout
    expiring: bool = False  # timed out: settled once its worker has restarted


class DaskExecutor:
    """Runs each call as one Dask future, on a cluster it joins or a local one it starts.

    With ``address`` (``tcp://host:port`` of a running scheduler) it connects to that
    cluster and leaves it running on shutdown; ``workers`` is then unused, and the
    executor's ``workers`` is the cluster's thread count. Without it, it starts a temporary
    ``LocalCluster`` of ``workers`` worker processes with one thread each, its HTTP
    server on a free loopback port, and closes it on shutdown.

    - Calls travel with cloudpickle, so functions defined in ``__main__`` work; one that
      cannot be pickled fails its future at once with
      :class:`~dagwell.errors.SerializationError`. Workers of a local cluster import what
      the caller imports; any worker gets the caller's ``sys.path`` entries that it lacks
      and that exist on its machine, appended, so a pipeline file loaded by path can be
      imported by name. A script that starts a local cluster needs an ``if __name__ ==
      "__main__":`` guard (Dask starts its workers with ``multiprocessing``'s spawn,
      which imports the main module again).
    - ``resources`` are Dask worker resources: ``{"GPU": 1}`` runs only on a worker
      started with ``dask worker --resources "GPU=1"`` (or ``LocalCluster(resources=...)``).
      A local cluster started here declares none, unless Dask's configuration gives them
      (``DASK_DISTRIBUTED__WORKER__RESOURCES='{"GPU": 1}'``). A call asking for resources that
      no worker has would wait forever: on a local cluster its future fails at once with
      :class:`~dagwell.errors.DefinitionError`; on a cluster joined by address, where
      such workers may still join, a warning is logged and the call waits for one.
    - ``timeout`` is enforced: a call still running ``timeout`` seconds after it started
      fails with :class:`~dagwell.errors.TaskTimeoutError`, and its worker is restarted
      by its nanny to stop it (without a nanny the worker cannot be restarted: a warning
      says so, and the call runs on there to its end, its result ignored).
    - A worker that dies during a call (``KilledWorker``: killed, crashed, or restarted
      by its nanny for using too much memory) fails the call with
      :class:`~dagwell.errors.WorkerDiedError`, and the runner's retries apply. A local
      cluster is started with ``allowed-failures`` 0, so Dask never re-runs the call
      itself; a cluster joined by address keeps its own setting (a warning says when
      Dask may re-run a call, which then counts as one attempt).
    - ``shutdown(cancel_pending=True)`` cancels every call; a local cluster's workers
      are stopped with it, while a call already running on a joined cluster runs on to
      its end there.

    Workers of a joined cluster should run one thread each (``dask worker --nthreads
    1``): output capture and timeouts work per worker process, so calls sharing one see
    each other's output in their logs, and a timeout restarts the worker under all of
    them.

    Example::

        with DaskExecutor(workers=2) as executor:
            future = executor.submit(functools.partial(pow, 2, 10), timeout=60)
            assert future.result() == 1024
    """

    name = "dask"

    def __init__(self, workers: int, address: str | None = None) -> None:
        if workers < 1:
            raise DefinitionError(f"a DaskExecutor needs at least 1 worker, not {workers}")
        self._cluster: distributed.LocalCluster | None = None
        if address is None:
            with dask.config.set(_LOCAL_CLUSTER_CONFIG), _hint_at_main_guard():
                self._cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    # The scheduler serves HTTP even without a dashboard, by default on
                    # port 8787 (taken by a second cluster): any free port, loopback only.
                    dashboard_address="127.0.0.1:0",
                    silence_logs=logging.WARNING,
                )
            try:
                # Its workers are on this machine: fetch results from them directly.
                self._client = distributed.Client(
                    self._cluster, set_as_default=False, direct_to_workers=True
                )
            except BaseException:
                self._cluster.close()
                raise
            self.workers = workers
            self.address: str = self._cluster.scheduler_address
        else:
            try:
                self._client = distributed.Client(
                    address, timeout=_CONNECT_TIMEOUT, set_as_default=False
                )
            except (OSError, TimeoutError, ValueError) as exc:
                raise DefinitionError(
                    f"cannot connect to the Dask scheduler at {address!r}: {exc}"
                ) from None
            self.address = address
            self.workers = self._check_joined_cluster()
        loop = self._client.loop
        assert loop is not None  # a synchronous client runs its own event loop
        self._loop = loop
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._closing = False
        self._closed = False
        self._restarts: set[cf.Future[None]] = set()  # worker restarts after timeouts
        self._resource_problems: dict[frozenset[tuple[str, float]], str | None] = {}
        self._plugin_name = f"dagwell-import-path-{uuid.uuid4().hex}"
        try:
            self._client.register_plugin(_ImportPath(_caller_path()), name=self._plugin_name)
            self._client.subscribe_topic(STARTED_TOPIC, self._on_started)
        except BaseException:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            raise

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def submit(
        self,
        call: Callable[[], T],
        *,
        timeout: float | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> cf.Future[T]:
        """Submit ``call()`` to the cluster as one Dask task and return its future.

        ``timeout`` (seconds) counts from the moment a worker starts the call;
        ``resources`` are the Dask worker resources it needs.
        """
        future: cf.Future[T] = cf.Future()
        name = describe_call(call)
        job = _Job(future, f"{_slug(name)}-{uuid.uuid4().hex}", name, timeout)
        wanted = dict(resources or {})
        error: Exception | None = None
        try:
            # Pickled here, so that the scheduler (which unpickles task graphs) sees only
            # bytes and needs none of the modules the call comes from.
            payload = cloudpickle.dumps(call)
        except Exception as exc:
            error = SerializationError(
                f"cannot send {name} to the Dask cluster: it cannot be pickled ({exc!r}). "
                "Define the function at module level and pass picklable arguments."
            )
            error.__cause__ = exc
        if error is None and wanted:
            problem = self._resource_problem(wanted)
            error = DefinitionError(f"{name} {problem}") if problem is not None else None
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot submit to a DaskExecutor after shutdown()")
            if error is None:
                self._jobs[job.key] = job  # before it can start, so its start event finds it
        if error is not None:
            future.set_exception(error)
            return future
        job.dask_future = self._client.submit(
            _run,
            payload,
            job.key,
            timeout is not None,
            key=job.key,
            pure=False,
            resources=wanted or None,
        )
        future.add_done_callback(lambda done: self._on_done(job, done))
        self._loop.add_callback(self._bridge, job)
        return future

    def shutdown(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting calls, wait for (or cancel) those submitted, and disconnect.

        A local cluster started by the executor is closed; a joined one is left running.
        Calling it again is harmless; calling it with ``cancel_pending=True`` while another
        thread waits in a graceful shutdown turns that into a cancelling one.
        """
        with self._lock:
            self._closing = True
            jobs = list(self._jobs.values())
        if cancel_pending:
            for job in jobs:
                if job.future.cancel():
                    # cf.wait counts a cancelled future as done only once it is notified.
                    with suppress(RuntimeError):  # notified already
                        job.future.set_running_or_notify_cancel()
        cf.wait([job.future for job in jobs])
        with self._lock:
            if self._closed:
                return
            self._closed = True
            restarts = list(self._restarts)
        if not cancel_pending:
            # Let restarts after timeouts end, rather than cut them short (and have Dask
            # log the interruption as an error).
            cf.wait(restarts, timeout=_RESTART_TIMEOUT)
        try:
            if self._cluster is None:  # a joined cluster: leave it as it was
                with suppress(Exception):
                    self._client.unsubscribe_topic(STARTED_TOPIC)
                    self._client.unregister_worker_plugin(self._plugin_name)
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    # -- the cluster ---------------------------------------------------------------------

    def _cluster_facts(self) -> tuple[int, list[tuple[int, dict[str, float]]]]:
        """The scheduler's allowed-failures, and each worker's threads and resources."""

        # A local function travels by value, so the scheduler needs no dagwell installed.
        def facts(dask_scheduler: Any) -> tuple[int, list[tuple[int, dict[str, float]]]]:
            workers = [(ws.nthreads, dict(ws.resources)) for ws in dask_scheduler.workers.values()]
            return dask_scheduler.allowed_failures, workers

        found: tuple[int, list[tuple[int, dict[str, float]]]]
        found = self._client.run_on_scheduler(facts)
        return found

    def _check_joined_cluster(self) -> int:
        """Warn about settings of a joined cluster that dagwell cannot honour; count threads."""
        try:
            allowed_failures, workers = self._cluster_facts()
        except Exception as exc:  # e.g. a scheduler that runs no client code
            log.warning("could not inspect the Dask cluster at %s: %s", self.address, exc)
            return max(1, int(sum(self._client.nthreads().values())))
        if allowed_failures > 0:
            log.warning(
                "the Dask scheduler at %s runs a call again, up to %d times, when its worker "
                "dies (distributed.scheduler.allowed-failures); dagwell records those runs "
                "as one attempt. Set it to 0 on the scheduler for exact attempt counts.",
                self.address,
                allowed_failures,
            )
        if any(threads > 1 for threads, _ in workers):
            log.warning(
                "workers of the Dask cluster at %s run several threads; calls sharing a "
                "worker mix their logs, and a timeout restarts the worker under all of "
                "them. Start workers with --nthreads 1.",
                self.address,
            )
        if not workers:
            log.warning("the Dask cluster at %s has no workers yet", self.address)
        return max(1, sum(threads for threads, _ in workers))

    def _resource_problem(self, wanted: dict[str, float]) -> str | None:
        """Why no worker can run a call needing ``wanted``, or None; asked once per need."""
        need = frozenset(wanted.items())
        if need in self._resource_problems:
            return self._resource_problems[need]
        try:
            _, workers = self._cluster_facts()
        except Exception as exc:
            log.warning("could not check the Dask workers' resources: %s", exc)
            return None
        problem: str | None = None
        if not any(all(have.get(k, 0) >= v for k, v in wanted.items()) for _, have in workers):
            declared = ", ".join(sorted({k for _, have in workers for k in have})) or "none"
            problem = (
                f"needs resources {wanted} but no worker of the Dask cluster at "
                f"{self.address} has them (resources declared: {declared}); start workers "
                'with them, e.g. dask worker --resources "GPU=1"'
            )
            if self._cluster is None:  # a joined cluster may still gain such workers
                log.warning("a call %s; it waits until such a worker joins", problem)
                problem = None
        self._resource_problems[need] = problem
        return problem

    # -- in the client's event loop --------------------------------------------------------

    async def _bridge(self, job: _Job) -> None:
        """Wait for the Dask future, then settle the job's future the same way."""
        value, error = None, None
        try:
            value = await self._client.gather(job.dask_future, asynchronous=True)
        except BaseException as exc:  # Dask's CancelledError is a BaseException
            error = self._error_for(job, exc)
        if not job.expiring:  # a call that timed out is settled by _stop
            self._settle(job, value=value, error=error)

    def _error_for(self, job: _Job, exc: BaseException) -> BaseException:
        if isinstance(exc, distributed.KilledWorker):
            worker = getattr(exc.last_worker, "address", "unknown")
            error: BaseException = WorkerDiedError(
                f"the Dask worker {worker} running {job.name} died before it finished (Dask: {exc})"
            )
        elif isinstance(exc, (asyncio.CancelledError, cf.CancelledError)):
            error = WorkerDiedError(f"Dask lost {job.name} (cancelled by Dask: {exc})")
        elif not isinstance(exc, Exception):
            error = TaskError(f"{job.name} raised {exc!r}")
        else:
            return exc  # the call's own exception, with its traceback from the worker
        error.__cause__ = exc
        return error

    def _settle(self, job: _Job, *, value: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            self._jobs.pop(job.key, None)
        if job.timer is not None:
            self._loop.remove_timeout(job.timer)
            job.timer = None
        job.dask_future = None  # lets Dask release the result
        if job.future.done():  # timed out or cancelled already
            return
        with suppress(cf.InvalidStateError):  # cancelled by another thread just now
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)

    def _on_started(self, event: tuple[float, Any]) -> None:
        """A call with a timeout started on a worker: start counting."""
        _, message = event
        if not isinstance(message, dict):
            return
        with self._lock:
            job = self._jobs.get(message.get("key", ""))
        if job is None or job.timeout is None or job.timer is not None:
            return  # another executor's call, or one already finished
        job.worker = message.get("worker")
        job.timer = self._loop.call_later(job.timeout, self._on_timeout, job)

    def _on_timeout(self, job: _Job) -> Awaitable[None] | None:
        job.timer = None
        if job.future.done() or job.dask_future is None:
            return None
        job.expiring = True
        restarted: cf.Future[None] = cf.Future()
        with self._lock:
            self._restarts.add(restarted)
        return self._expire(job, job.dask_future, restarted)

    async def _expire(
        self, job: _Job, dask_future: distributed.Future[Any], restarted: cf.Future[None]
    ) -> None:
        """A call overran its timeout: fail it, cancel it, restart the worker under it."""
        try:
            await self._stop(job, dask_future)
        finally:
            with self._lock:
                self._restarts.discard(restarted)
            restarted.set_result(None)

    async def _stop(self, job: _Job, dask_future: distributed.Future[Any]) -> None:
        worker, how = job.worker, "OK"
        try:
            await self._client.cancel([dask_future])
            if worker is not None:
                outcome = await self._client.restart_workers(
                    [worker], timeout=_RESTART_TIMEOUT, raise_for_error=False
                )
                how = str(outcome.get(worker))
        except Exception as exc:
            how = repr(exc)
        finally:
            stopped = f"its Dask worker {worker} was restarted to stop it"
            if worker is None:
                stopped = "its Dask task was cancelled (its worker is unknown)"
            elif how != "OK":
                stopped = (
                    f"its Dask worker {worker} could not be restarted ({how}): the call may "
                    "still be running there"
                )
            self._settle(
                job,
                error=TaskTimeoutError(
                    f"{job.name} exceeded its timeout of {job.timeout} s; {stopped}"
                ),
            )
        if how != "OK":
            log.warning(
                "could not restart the Dask worker %s to stop %s after its timeout (%s); "
                "unless Dask removed that worker, the call runs on there until it returns",
                worker,
                job.name,
                how,
            )

    def _on_done(self, job: _Job, future: cf.Future[Any]) -> None:
        """A future cancelled by its holder (or by shutdown) cancels its Dask task too."""
        if future.cancelled() and not self._closed:
            self._loop.add_callback(self._cancel, job)

    async def _cancel(self, job: _Job) -> None:
        dask_future = job.dask_future
        self._settle(job)
        if dask_future is not None:
            with suppress(Exception):
                await self._client.cancel([dask_future])


# -- on the workers ----------------------------------------------------------------------


def _run(payload: bytes, key: str, report_start: bool) -> Any:
    """Run one pickled call on a Dask worker; first say it started, if its timeout needs it."""
    if report_start:
        worker = distributed.get_worker()
        worker.log_event(STARTED_TOPIC, {"key": key, "worker": worker.address})
    try:
        call = pickle.loads(payload)
    except Exception as exc:
        raise SerializationError(
            f"the Dask worker could not unpickle {key}: {exc!r}; is the module that defines "
            "it importable there (installed, or on a path the worker can see)?"
        ) from exc
    try:
        return call()
    except Exception:
        raise
    except BaseException as exc:
        # SystemExit or KeyboardInterrupt raised by task code must not stop the worker.
        raise TaskError(f"{describe_call(call)} raised {exc!r}") from exc


class _ImportPath(WorkerPlugin):
    """Appends to a worker's ``sys.path`` the caller's entries it lacks and has on disk."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.added: list[str] = []

    def setup(self, worker: distributed.Worker) -> None:
        self.added = [p for p in self.paths if p not in sys.path and os.path.exists(p)]
        if self.added:
            sys.path.extend(self.added)
            importlib.invalidate_caches()

    def teardown(self, worker: distributed.Worker) -> None:
        for path in self.added:
            with suppress(ValueError):
                sys.path.remove(path)
        self.added = []


@contextmanager
def _hint_at_main_guard() -> Iterator[None]:
    """Name the usual cause when a script's local cluster cannot start its workers."""
    try:
        yield
    except Exception as exc:
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if script is None or "failed to start" not in str(exc):
            raise
        raise DefinitionError(
            f"the local Dask cluster could not start its workers ({exc}). Dask starts them "
            f"by importing {script} again: if the script runs a pipeline when imported, put "
            'that under if __name__ == "__main__":'
        ) from exc


def _caller_path() -> list[str]:
    # Absolute, so that '' and relative entries mean what they mean here.
    return [os.path.abspath(p) for p in sys.path if isinstance(p, str)]


def _slug(name: str) -> str:
    """A readable Dask key prefix: ``node 'train' (attempt 2)`` -> ``node-train-attempt-2``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-")[:80] or "call"
