"""The worker process of ProcessExecutor: receive a pickled call, run it, send back the outcome.

Started by :class:`~dagwell.execution.executors.process.ProcessExecutor` as
``python -m dagwell.execution.executors.worker FD``, where ``FD`` is this worker's end of a
socket pair. Each message is one ``Connection.send_bytes`` frame:

=================  =====================================================================
parent -> worker   ``pickle`` of ``{"sys_path": [...], "cwd": "..."}``, once, first
worker -> parent   an empty frame, once: "initialised, ready for calls"
parent -> worker   ``cloudpickle`` of a zero-argument call, one per call
worker -> parent   ``cloudpickle`` of ``("ok", result)`` or ``("error", (exception, tb))``
=================  =====================================================================

``tb`` is the worker-side traceback as text. The worker runs one call at a time and exits
when the parent closes its end of the socket, or (on Linux) when the parent dies.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, NoReturn

import cloudpickle

from dagwell.errors import SerializationError, TaskError
from dagwell.execution.executors.base import describe_call

if TYPE_CHECKING:
    from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def main(argv: Sequence[str]) -> None:
    """Serve calls over the socket whose file descriptor is ``argv[0]`` until it closes."""
    fd = int(argv[0])
    _die_with_parent()
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what stops.
    # A no-op handler rather than SIG_IGN, which programs a task starts would inherit.
    signal.signal(signal.SIGINT, _ignore_signal)
    os.set_inheritable(fd, False)  # so processes a task starts cannot hold our socket open
    conn = Connection(fd)
    try:
        # An error in _initialise (say, the caller's cwd is gone) prints its traceback and
        # exits 1; the parent reports that as a worker that could not start.
        _initialise(pickle.loads(conn.recv_bytes()))
        conn.send_bytes(b"")
        while True:
            conn.send_bytes(run_call(conn.recv_bytes()))
    except (EOFError, ConnectionError):
        pass  # the parent closed our socket or died: nothing left to do
    finally:
        conn.close()
    _exit_quickly()


def _exit_quickly() -> NoReturn:
    """Run atexit handlers, then skip the interpreter's teardown, as multiprocessing does.

    Tearing down every imported module takes ~15 ms with dagwell imported, and the pool's
    shutdown waits for it; atexit handlers (logging, temporary files) still run.
    """
    atexit._run_exitfuncs()
    _flush_std_streams()
    os._exit(0)


def _ignore_signal(signum: int, frame: object) -> None:
    pass


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us when the parent dies, even in the middle of a long call."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass  # best effort: EOF on the socket still ends an idle worker


def _initialise(init: dict[str, Any]) -> None:
    """Import from where the caller imports: its (absolute) ``sys.path`` and cwd."""
    sys.path[:] = init["sys_path"]
    os.chdir(init["cwd"])


def run_call(payload: bytes) -> bytes:
    """Unpickle one call, run it, and return its pickled outcome. Never raises."""
    try:
        call = pickle.loads(payload)
    except BaseException as exc:
        error = SerializationError(
            f"the worker process could not unpickle the call: {_safe_repr(exc)}; is the "
            "module that defines it importable from the caller's sys.path?"
        )
        error.__cause__ = exc
        return _error_reply(error, "the call")
    name = describe_call(call)
    try:
        result = call()
    except BaseException as exc:
        return _error_reply(exc, name)
    finally:
        _flush_std_streams()
    try:
        return cloudpickle.dumps(("ok", result))  # type: ignore[no-any-return]
    except Exception as exc:
        error = SerializationError(
            f"the return value of {name} (a {type(result).__qualname__}) could not be "
            f"pickled to send it back from the worker process: {_safe_repr(exc)}"
        )
        error.__cause__ = exc
        return _error_reply(error, name)


def _error_reply(exc: BaseException, name: str) -> bytes:
    """Pickle ``("error", (exc, tb))``; replace ``exc`` by a TaskError if it won't travel."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if not isinstance(exc, Exception):
        # SystemExit or KeyboardInterrupt raised by task code must not stop the caller.
        exc = TaskError(f"{name} raised {_safe_repr(exc)}")
    try:
        reply: bytes = cloudpickle.dumps(("error", (exc, tb)))
        pickle.loads(reply)  # exceptions with custom __init__ often pickle but don't unpickle
    except Exception as pickling_error:
        stand_in = TaskError(
            f"{name} raised {_safe_repr(exc)}, which could not be pickled to send it back "
            f"from the worker process ({_safe_repr(pickling_error)}). Traceback in the "
            f"worker:\n{tb}"
        )
        reply = cloudpickle.dumps(("error", (stand_in, tb)))
    return reply


def _safe_repr(obj: object) -> str:
    try:
        return repr(obj)
    except Exception:
        return object.__repr__(obj)


def _flush_std_streams() -> None:
    # Block-buffered output would otherwise wait for the next call, or die with the worker.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
