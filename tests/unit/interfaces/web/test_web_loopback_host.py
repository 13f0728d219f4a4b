"""An open server answers only to its own loopback names, IPv6 ones included."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from dagwell.interfaces.web.loopback_host import (
    LoopbackHostMiddleware,
    host_allowed,
    loopback_names,
)


def client_bound_to(host: str) -> TestClient:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hello"))])
    app.add_middleware(LoopbackHostMiddleware, names=loopback_names(host))
    return TestClient(app)


@pytest.mark.parametrize(
    "header",
    [
        "127.0.0.1:8765",
        "localhost:8765",
        "LOCALHOST",
        "localhost.:8765",
        "app.localhost",
        "[::1]:8765",
    ],
)
def test_this_machines_names_are_served(header: str) -> None:
    answer = client_bound_to("::1").get("/", headers={"Host": header})
    assert (answer.status_code, answer.text) == (200, "hello")


@pytest.mark.parametrize(
    "header",
    [
        "attacker.example",
        "attacker.example:8765",
        "127.0.0.1.attacker.example",
        "localhost.attacker.example",
        "user@127.0.0.1",
        "attacker.example#@127.0.0.1",
        "[::1",
        "",
        "127.0.0.1:80:attacker.example",
        "[::1]attacker.example",
        "localhost:abc",
        "local\thost",
    ],
)
def test_any_other_name_is_refused_with_a_hint(header: str) -> None:
    answer = client_bound_to("127.0.0.1").get("/", headers={"Host": header})
    assert answer.status_code == 400
    assert "answers only to its own names" in answer.json()["error"]
    assert "127.0.0.1" in answer.json()["hint"]


def test_the_bound_address_is_one_of_the_names() -> None:
    assert host_allowed("127.0.0.2:8765", loopback_names("127.0.0.2"))
    assert not host_allowed("127.0.0.2:8765", loopback_names("127.0.0.1"))


def test_a_request_with_two_host_headers_is_refused() -> None:
    """Servers disagree on which of two Host headers counts; neither is trusted."""
    reached: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"host", b"attacker.example"), (b"host", b"127.0.0.1:8765")]
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    middleware = LoopbackHostMiddleware(app, names=loopback_names("127.0.0.1"))
    asyncio.run(middleware(scope, receive, send))

    assert not reached
    assert sent[0]["status"] == 400
