"""Who may do what: the one dependency every route declares, ``Depends(require(action))``.

Each route, API or not, names the action it needs (``view``, ``trigger``, ``resume``,
``cancel``, ``set_alias``, ...) and receives the :class:`Principal` acting. This module is
the only place that decides, so sessions and API tokens plug in here alone.

For now only the open mode exists: bound to loopback with no users configured, everyone is
an anonymous admin, and every response carries ``X-Dagwell-Access: open`` (the health
answer says ``"open": true``). Without open mode every request is refused with 401 until
sign-in is wired in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagwell.core.roles import Action, Role
from dagwell.interfaces.web.problems import ApiError
from dagwell.interfaces.web.state import web_state

HEALTH = "health"
"""The one action anyone may do, signed in or not (load balancers probe the health route);
every other is an :class:`~dagwell.core.roles.Action`."""

ACCESS_HEADER = "X-Dagwell-Access"
"""Response header saying how the UI is protected (``open`` when it is not)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user name and role (None for someone not signed in).

    >>> Principal("ada", Role.OPERATOR)
    """

    name: str
    role: Role | None
    anonymous: bool = False


ANONYMOUS_ADMIN = Principal("anonymous", Role.ADMIN, anonymous=True)
"""The principal of every request when the UI runs open."""

ANONYMOUS = Principal("anonymous", None, anonymous=True)
"""Someone not signed in, on a server with users: allowed only the public actions."""


def require(action: Action | str) -> Callable[[Request], Principal]:
    """A FastAPI dependency that lets the request through only if it may do ``action``.

    >>> @router.post("/runs/{run_id}/cancel")
    ... def cancel(run_id: str, who: Annotated[Principal, Depends(require("cancel"))]): ...
    """
    if action != HEALTH:
        action = Action(action)  # a typo in a route fails when the app is built

    def dependency(request: Request) -> Principal:
        if web_state(request).open_mode:
            return ANONYMOUS_ADMIN
        if action == HEALTH:
            return ANONYMOUS
        raise ApiError(
            401,
            f"sign-in required to {action}",
            "this server has users; send an API token as 'Authorization: Bearer TOKEN'",
        )

    dependency.__name__ = f"require_{action}"
    return dependency


class AccessHeader:
    """ASGI middleware adding ``X-Dagwell-Access: open`` to every response in open mode."""

    def __init__(self, app: ASGIApp, *, open_mode: bool) -> None:
        self.app = app
        self.open_mode = open_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.open_mode:
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = [*headers, (ACCESS_HEADER.lower().encode(), b"open")]
            await send(message)

        await self.app(scope, receive, send_with_header)
