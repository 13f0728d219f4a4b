"""The app with its HTML pages, for the page tests: the API, the pages, the static files and
the error page, as ``dagwell ui`` serves them; optionally with a fixed signed-in user."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

import dagwell as dw
from dagwell.interfaces.web import pages
from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.app import create_app


class ActAs:
    """ASGI middleware putting ``principal`` on ``request.state``, as sign-in does."""

    def __init__(self, app: ASGIApp, *, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["principal"] = self.principal
        await self.app(scope, receive, send)


def pages_app(settings: dw.Settings, *, principal: Principal | None = None) -> object:
    """The open app over ``settings`` with the pages; with ``principal``, every request
    acts as them (set after the app's own access middleware, so it wins)."""
    app = create_app(
        settings,
        open_mode=True,
        routers=[pages.router],
        static_dir=pages.STATIC_DIR,
        error_page=pages.error_page,
    )
    if principal is not None:
        # user_middleware runs outermost first: appended, ours runs after sign-in's.
        app.user_middleware.append(Middleware(ActAs, principal=principal))
    return app
