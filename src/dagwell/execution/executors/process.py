"""ProcessExecutor: runs calls in a pool of long-lived worker processes.

How it works. Each worker is ``python -m dagwell.execution.executors.worker`` talking over
its own socket pair (the wire format is in ``worker.py``). ``submit`` pickles the call in the
caller's thread and queues it; one dispatcher thread owns every worker socket. It sleeps in
``multiprocessing.connection.wait`` until a worker replies, a submission or shutdown wakes
it through a self-pipe, or the nearest timeout falls due. It hands queued calls to idle
workers, resolves futures from replies, SIGKILLs workers whose call overran its timeout, and
replaces workers that were killed or died. Worker start-up (an interpreter, no fork of the
caller) happens in the dispatcher thread, so a worker's parent-death signal is tied to the
thread that lives exactly as long as the pool.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import cloudpickle

from dagwell.errors import (
    DefinitionError,
    SerializationError,
    TaskError,
    TaskTimeoutError,
    WorkerDiedError,
)
from dagwell.execution.executors.base import describe_call

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

T = TypeVar("T")

_WORKER_MODULE = "dagwell.execution.executors.worker"
_EXIT_GRACE_SECONDS = 10.0  # how long shutdown lets an idle worker exit before SIGKILL


@dataclass(eq=False)
class _Job:
    """One submitted call: its future, its pickled bytes, and how long it may run."""

    future: Future[Any]
    payload: bytes
    timeout: float | None
    name: str


@dataclass(eq=False)
class _Worker:
    """One worker process as the dispatcher sees it. Only the dispatcher thread touches it."""

    proc: subprocess.Popen[bytes]
    conn: Connection
    # booting: not yet ready; dying: SIGKILLed, waiting for its socket to close.
    state: Literal["booting", "idle", "busy", "dying"] = "booting"
    job: _Job | None = None
    deadline: float = math.inf


class _RemoteTraceback(Exception):
    """The worker-side traceback, set as ``__cause__`` of the exception it belongs to.

    Never raised; it only makes ``traceback.format_exception`` show where in the worker
    the call failed, as :mod:`concurrent.futures` does.
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


class ProcessExecutor:
    """Runs calls in ``workers`` long-lived worker processes, started at construction.

    Workers are fresh interpreters (not forks) that import what the caller can: they get the
    caller's ``sys.path`` and cwd as of construction. Calls travel with ``cloudpickle``, so
    functions defined in ``__main__`` work too, without an ``if __name__ == "__main__"``
    guard. A call that cannot be pickled fails its future at once with
    :class:`~dagwell.errors.SerializationError`.

    ``timeout`` is enforced: a call still running after ``timeout`` seconds has its worker
    SIGKILLed, its future fails with :class:`~dagwell.errors.TaskTimeoutError`, and a new
    worker takes the dead one's place. A worker that dies during a call (``os._exit``, a
    segfault, the OOM killer) fails that call with :class:`~dagwell.errors.WorkerDiedError`
    naming its exit code or signal, and is replaced too. If a worker cannot even start, the
    pool is broken: every pending and later call fails with WorkerDiedError.

    ``resources`` are ignored: every worker of the pool is the same, on this machine. Use
    pools (``@dw.task(pool=...)``) to limit how many calls share something scarce.

    Always call :meth:`shutdown` or use the executor as a context manager. Workers exit
    on their own if the caller's process dies. POSIX only (it passes a socket to the
    worker with ``pass_fds``).

    Example::

        with ProcessExecutor(workers=2) as executor:
            future = executor.submit(functools.partial(pow, 2, 10), timeout=60)
            assert future.result() == 1024
    """

    name = "process"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise DefinitionError(f"a ProcessExecutor needs at least 1 worker, not {workers}")
        self.workers = workers
        cwd = os.getcwd()
        # Absolute, so that '' and relative entries mean what they mean here, not in the worker.
        sys_path = [os.path.abspath(p) for p in sys.path if isinstance(p, str)]
        self._init_message = pickle.dumps({"sys_path": sys_path, "cwd": cwd})
        self._executable = sys.executable
        # Shared with submitting threads, guarded by _lock.
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._closing = False
        self._cancelling = False
        self._broken: str | None = None
        self._wake_pending = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Owned by the dispatcher thread.
        self._pool: dict[Connection, _Worker] = {}
        self._thread = threading.Thread(
            target=self._dispatch, name="dagwell-process-dispatcher", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> ProcessExecutor:
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
    ) -> Future[T]:
        """Queue ``call()`` for the next idle worker and return its future.

        ``timeout`` (seconds) counts from the moment a worker starts the call; ``resources``
        are ignored.
        """
        future: Future[T] = Future()
        name = describe_call(call)
        error: TaskError | None = None
        try:
            payload = cloudpickle.dumps(call)
        except Exception as exc:
            error = SerializationError(
                f"cannot send {name} to a worker process: it cannot be pickled ({exc!r}). "
                "Define the function at module level and pass picklable arguments."
            )
            error.__cause__ = exc
            payload = b""
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot submit to a ProcessExecutor after shutdown()")
            if error is None and self._broken is not None:
                error = WorkerDiedError(self._broken)
            if error is None:
                self._queue.append(_Job(future, payload, timeout, name))
                self._wake_locked()
        if error is not None:
            future.set_exception(error)
        return future

    def shutdown(self, *, cancel_pending: bool = False) -> None:
        """Stop accepting calls, wait for the workers to exit, and release everything.

        With ``cancel_pending=False`` queued and running calls finish first. With
        ``cancel_pending=True`` queued futures are cancelled and busy workers are killed,
        their futures failing with WorkerDiedError. Calling it again is harmless; calling
        it with ``cancel_pending=True`` while another thread waits in a graceful shutdown
        turns that into a cancelling one.
        """
        with self._lock:
            self._closing = True
            self._cancelling = self._cancelling or cancel_pending
            self._wake_locked()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- callers' side --------------------------------------------------------------------

    def _wake_locked(self) -> None:
        """Wake the dispatcher. Called with _lock held, so the socket cannot close under us."""
        if self._wake_pending or self._wake_w.fileno() < 0:
            return
        self._wake_pending = True
        with contextlib.suppress(OSError):  # buffer full: a wake-up is pending anyway
            self._wake_w.send(b"\0")

    # -- the dispatcher thread ------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            for _ in range(self.workers):
                self._add_worker()
            while self._step():
                pass
        except BaseException as exc:
            self._break(f"the ProcessExecutor dispatcher thread failed: {exc!r}")
        finally:
            self._stop_workers()
            with self._lock:
                self._wake_r.close()
                self._wake_w.close()

    def _step(self) -> bool:
        """Hand out work, sleep until something happens, handle it. False means: stop."""
        with self._lock:
            # Clearing before reading the queue means a submission after this point writes
            # a fresh wake-up byte, so none is lost.
            self._wake_pending = False
            closing, cancelling = self._closing, self._cancelling
        if cancelling:
            self._cancel_everything()
            return False
        self._hand_out_jobs()
        if self._broken is not None:
            return False
        if closing and self._drained():
            return False
        for ready in wait([*self._pool, self._wake_r], self._seconds_to_next_deadline()):
            if ready is self._wake_r:
                self._drain_wakeups()
            else:
                worker = self._pool.get(ready)  # type: ignore[call-overload]
                if worker is not None:
                    self._on_readable(worker)
        self._expire_deadlines()
        return self._broken is None

    def _hand_out_jobs(self) -> None:
        for worker in list(self._pool.values()):
            if worker.state != "idle":
                continue
            job = self._next_job()
            if job is None:
                return
            self._start(worker, job)

    def _next_job(self) -> _Job | None:
        """Pop the next queued job that was not cancelled while it waited."""
        while True:
            with self._lock:
                if not self._queue:
                    return None
                job = self._queue.popleft()
            if job.future.set_running_or_notify_cancel():
                return job

    def _start(self, worker: _Worker, job: _Job) -> None:
        worker.state, worker.job = "busy", job
        if job.timeout is not None:
            worker.deadline = time.monotonic() + job.timeout
        try:
            worker.conn.send_bytes(job.payload)
        except OSError:
            self._on_exit(worker)  # it died while idle; fails the job with WorkerDiedError
        job.payload = b""

    def _drained(self) -> bool:
        with self._lock:
            if self._queue:
                return False
        return all(worker.state != "busy" for worker in self._pool.values())

    def _seconds_to_next_deadline(self) -> float | None:
        deadline = min((worker.deadline for worker in self._pool.values()), default=math.inf)
        return None if deadline == math.inf else max(0.0, deadline - time.monotonic())

    def _drain_wakeups(self) -> None:
        # _wake_pending keeps at most a couple of bytes in flight; one read takes them all.
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)

    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._on_exit(worker)
            return
        if worker.state == "booting":
            worker.state = "idle"
        elif worker.state == "busy":
            job = worker.job
            worker.state, worker.job, worker.deadline = "idle", None, math.inf
            if job is not None:
                _resolve(job, data)
        # A dying worker's late reply is dropped: its future already failed.

    def _expire_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self._pool.values()):
            if worker.state != "busy" or worker.deadline > now or worker.job is None:
                continue
            job = worker.job
            worker.proc.kill()
            worker.state, worker.job, worker.deadline = "dying", None, math.inf
            job.future.set_exception(
                TaskTimeoutError(
                    f"{job.name} exceeded its timeout of {job.timeout} s and was killed "
                    f"(worker pid {worker.proc.pid})"
                )
            )
            self._add_worker()

    def _on_exit(self, worker: _Worker) -> None:
        """A worker's socket closed: reap it, fail its call, and replace it."""
        del self._pool[worker.conn]
        worker.conn.close()
        how = _describe_exit(_reap(worker.proc))
        if worker.state == "booting":
            self._break(
                f"a worker process (pid {worker.proc.pid}) exited while starting ({how}); "
                "its error output, if any, is on stderr"
            )
            return
        if worker.state == "busy" and worker.job is not None:
            worker.job.future.set_exception(
                WorkerDiedError(
                    f"the worker process (pid {worker.proc.pid}) running {worker.job.name} "
                    f"died before replying ({how})"
                )
            )
        if worker.state != "dying":  # a dying worker was replaced when it was killed
            self._add_worker()

    def _add_worker(self) -> None:
        parent_end, child_end = socket.socketpair()
        with child_end:
            try:
                proc = subprocess.Popen(
                    [self._executable, "-m", _WORKER_MODULE, str(child_end.fileno())],
                    pass_fds=(child_end.fileno(),),
                    stdin=subprocess.DEVNULL,
                )
            except BaseException:
                parent_end.close()
                raise
        conn = Connection(parent_end.detach())
        self._pool[conn] = _Worker(proc, conn)
        # Small enough for the socket buffer, so it never waits for the worker to boot. If
        # the worker is already dead, its socket reports EOF and _on_exit says why.
        with contextlib.suppress(OSError):
            conn.send_bytes(self._init_message)

    def _cancel_everything(self) -> None:
        with self._lock:
            queued = list(self._queue)
            self._queue.clear()
        for job in queued:
            job.future.cancel()
        for worker in self._pool.values():
            if worker.state == "busy" and worker.job is not None:
                worker.proc.kill()
                worker.job.future.set_exception(
                    WorkerDiedError(
                        f"{worker.job.name} was killed (worker pid {worker.proc.pid}) because "
                        "the executor was shut down with cancel_pending=True"
                    )
                )
                worker.state, worker.job = "dying", None

    def _break(self, message: str) -> None:
        """Give up on the pool: fail every pending call now and every later one at submit."""
        with self._lock:
            self._broken = message
            queued = list(self._queue)
            self._queue.clear()
        futures = [job.future for job in queued if job.future.set_running_or_notify_cancel()]
        futures += [worker.job.future for worker in self._pool.values() if worker.job]
        for future in futures:
            if not future.done():  # this may run after a dispatcher bug, so stay defensive
                future.set_exception(WorkerDiedError(message))
        for worker in self._pool.values():
            worker.state, worker.job = "dying", None
            worker.proc.kill()

    def _stop_workers(self) -> None:
        """Close every socket (idle workers exit on EOF), then wait for every process."""
        for worker in self._pool.values():
            worker.conn.close()
            if worker.state == "booting":
                worker.proc.kill()  # it holds no call; don't wait for it to finish booting
        give_up_at = time.monotonic() + _EXIT_GRACE_SECONDS
        for worker in self._pool.values():
            try:
                worker.proc.wait(timeout=max(0.0, give_up_at - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        self._pool.clear()


def _resolve(job: _Job, data: bytes) -> None:
    """Settle a job's future from a worker's reply."""
    try:
        status, value = pickle.loads(data)
    except Exception as exc:
        error = SerializationError(
            f"the outcome of {job.name} could not be unpickled in the calling process: {exc!r}"
        )
        error.__cause__ = exc
        job.future.set_exception(error)
        return
    if status == "ok":
        job.future.set_result(value)
    else:
        error, tb = value
        error.__cause__ = _RemoteTraceback(tb)
        job.future.set_exception(error)


def _reap(proc: subprocess.Popen[bytes]) -> int:
    """Wait for a process whose socket closed; it is exiting, so this is quick."""
    try:
        return proc.wait(timeout=_EXIT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()  # it closed its socket but kept running: not a worker we can use
        return proc.wait()


def _describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
