"""Pipelines that raise alerts, and the real receivers the alert tests deliver to.

Task functions live at module level so process-executor workers can import them; each
pipeline is built by a function taking the hooks, because a receiver's port is only known
when a test starts it. Hooks run in the runner's process, so they are never sent to workers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagwell as dw

# -- task functions ------------------------------------------------------------------------


def fail(message: str = "disk full") -> None:
    raise ValueError(message)


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def numbers() -> list[int]:
    return [1, 2, 3]


def not_two(n: int) -> int:
    if n == 2:
        raise ValueError(f"{n} is not allowed")
    return n


def one() -> int:
    return 1


# -- pipelines -----------------------------------------------------------------------------


def failing(hooks: list[Any]) -> dw.Pipeline:
    """``boom`` fails twice (one retry): a retry alert, a failure alert, a pipeline failure."""
    boom = dw.task(name="boom", retries=1, on_retry=hooks, on_failure=hooks)(fail)

    def body() -> None:
        boom()

    return dw.pipeline(name="failing", on_failure=hooks)(body)


def failing_quietly(hooks: list[Any]) -> dw.Pipeline:
    """``boom`` fails once, with no retries; only the pipeline has (failure) hooks."""
    boom = dw.task(name="boom")(fail)

    def body() -> None:
        boom()

    return dw.pipeline(name="failing_quietly", on_failure=hooks)(body)


def slow(hooks: list[Any], *, sla: float, seconds: float) -> dw.Pipeline:
    """``slow_step`` sleeps ``seconds`` with an ``sla``; the run succeeds anyway."""
    step = dw.task(name="slow_step", sla=sla, on_sla_miss=hooks)(nap)

    def body() -> float:
        return step(seconds)  # type: ignore[no-any-return]

    return dw.pipeline(name="slow", on_success=hooks)(body)


def fan_out(hooks: list[Any]) -> dw.Pipeline:
    """``check`` maps over [1, 2, 3] and fails for 2: one failure alert, for ``check[1]``."""
    items = dw.task(name="items")(numbers)
    check = dw.task(name="check", on_failure=hooks, on_success=hooks)(not_two)

    def body() -> None:
        check.map(items())

    return dw.pipeline(name="fan_out")(body)


def succeeding(hooks: list[Any]) -> dw.Pipeline:
    """One task that succeeds, with success hooks on it and on the pipeline."""
    step = dw.task(name="step", on_success=hooks)(one)

    def body() -> int:
        return step()  # type: ignore[no-any-return]

    return dw.pipeline(name="succeeding", on_success=hooks)(body)


# -- receivers -----------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: keeps each POSTed JSON body, answers ``status``."""

    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The bodies, once at least ``count`` have arrived (or ``timeout`` passed)."""
        give_up_at = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < give_up_at:
            time.sleep(0.01)
        return list(self.bodies)


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    """Run a :class:`Receiver` in a thread for the duration of the block."""
    got = Receiver(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            got.headers.append(dict(self.headers.items()))
            got.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(got.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/secret"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
