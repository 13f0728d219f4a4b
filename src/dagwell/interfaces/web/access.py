"""Who may do what: the one dependency every route declares, ``Depends(require(action))``.

Each route, API or page, names the action it needs (``view``, ``trigger``, ``resume``,
``cancel``, ``set_alias``, ``manage_users``, ``view_audit``, or one of the public
:data:`PUBLIC_ACTIONS`) and receives the :class:`Principal` acting. This module is the only
place that decides; what each role may do is the table in :mod:`dagwell.core.roles`.

Two parts:

- :class:`AccessMiddleware` finds out who is asking, once per request, before any route:
  an API token (``Authorization: Bearer dwt_...``; a bad or revoked one is a 401), else the
  session cookie (the user is read again, so a removed user or a changed role counts at
  once), else nobody. It refuses an unsafe request signed in by cookie without the session's
  CSRF token (:mod:`~dagwell.interfaces.web.csrf`), and any unsafe request a browser marks
  cross-site. It sets ``request.state.principal`` (a :class:`Principal`) and
  ``request.state.csrf_token`` (the session's token, ``""`` without a session), which the
  pages put in their forms and in htmx's headers.
- :func:`require` lets the request through or refuses it: not signed in is a 401 under
  ``/api`` and for ``/metrics``, and a redirect to ``/login?next=...`` for a page; signed in
  without the role is a 403 (JSON, or the error page), written to the audit log when the
  request would have changed something.

In open mode (loopback, no users) everyone is an anonymous admin, and every response
carries ``X-Dagwell-Access: open``. Once a user is added (seen within
:data:`OPEN_RECHECK_SECONDS`), a server that started open stops being open and asks everyone
to sign in, as one started with users does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagwell.core.roles import Action, Role, allows
from dagwell.interfaces.web import csrf, problems
from dagwell.interfaces.web.problems import ApiError
from dagwell.interfaces.web.sessions import SESSION_COOKIE, SessionCookies
from dagwell.interfaces.web.state import web_state
from dagwell.settings import Settings

HEALTH = "health"
"""The health probe: anyone may ask, signed in or not (load balancers do)."""

SIGN_IN = "sign_in"
"""Signing in and out: anyone may ask (the sign-in page, ``POST /login``, ``/logout``)."""

PUBLIC_ACTIONS = frozenset({HEALTH, SIGN_IN})
"""The actions that need no sign-in; every other is an :class:`~dagwell.core.roles.Action`."""

OPEN_RECHECK_SECONDS = 2.0
"""How often a server that started open looks whether a user has been added since."""

log = logging.getLogger(__name__)

ACCESS_HEADER = "X-Dagwell-Access"
"""Response header saying how the UI is protected (``open`` when it is not)."""

LOGIN_PATH = "/login"
"""The sign-in page."""

Via = Literal["open", "session", "token", "none"]


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user name and role (None for someone not signed in).

    ``via`` says how they signed in (``session`` cookie, API ``token``, ``open`` mode, or
    ``none``), and ``source`` is what the audit log records: ``ui`` for the pages, ``api``
    for scripts.

    >>> Principal("ada", Role.OPERATOR, via="session", source="ui")
    """

    name: str
    role: Role | None
    anonymous: bool = False
    via: Via = "none"
    source: Literal["ui", "api"] = "api"

    def may(self, action: Action | str) -> bool:
        """True when this principal may take ``action`` (a page hides what it may not).

        >>> request.state.principal.may("trigger")
        """
        return action in PUBLIC_ACTIONS or (self.role is not None and allows(self.role, action))


ANONYMOUS_ADMIN = Principal("anonymous", Role.ADMIN, anonymous=True, via="open")
"""The principal of every request when the UI runs open."""

ANONYMOUS = Principal("anonymous", None, anonymous=True)
"""Someone not signed in, on a server with users: allowed only the public actions."""


def principal_of(request: Request) -> Principal:
    """The :class:`Principal` the middleware found for ``request`` (a FastAPI dependency).

    >>> principal_of(request).name
    'ada'
    """
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    return ANONYMOUS_ADMIN if web_state(request).open_mode else ANONYMOUS


def require(action: Action | str) -> Callable[[Request], Principal]:
    """A FastAPI dependency that lets the request through only if it may do ``action``.

    >>> @router.post("/runs/{run_id}/cancel")
    ... def cancel(run_id: str, who: Annotated[Principal, Depends(require("cancel"))]): ...
    """
    if action not in PUBLIC_ACTIONS:
        action = Action(action)  # a typo in a route fails when the app is built

    def dependency(request: Request) -> Principal:
        who = principal_of(request)
        if action in PUBLIC_ACTIONS:
            return who
        if who.role is None:
            raise SignInRequired(
                f"sign-in required to {action}",
                "sign in at /login, or send an API token as 'Authorization: Bearer TOKEN' "
                "(an admin makes one with: dagwell tokens create USER)",
            )
        if not allows(who.role, action):
            _refuse(request, who, Action(action))
        return who

    dependency.__name__ = f"require_{action}"
    return dependency


class SignInRequired(ApiError):
    """Raised by :func:`require` for someone not signed in: a 401, or a page's redirect."""

    def __init__(self, error: str, hint: str) -> None:
        super().__init__(401, error, hint)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """Answers :class:`SignInRequired`: 401 JSON under ``/api`` and for ``/metrics``; for a
    page, a redirect to the sign-in page that comes back here (htmx: ``HX-Redirect``)."""
    assert isinstance(exc, SignInRequired)
    if problems.is_api_path(request.url.path):
        return problems.problem(401, exc.error, exc.hint, **{"WWW-Authenticate": "Bearer"})
    if request.headers.get("hx-request"):
        # A fragment would put the sign-in form inside the page: have htmx reload it all.
        back = urlsplit(request.headers.get("hx-current-url", ""))
        here = back.path + (f"?{back.query}" if back.query else "")
        return Response(status_code=401, headers={"HX-Redirect": login_url(here)})
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(login_url(here if request.method == "GET" else "/"), status_code=303)


def login_url(next_path: str) -> str:
    """The sign-in page, coming back to ``next_path`` (if it is one of ours) afterwards.

    >>> login_url("/runs?status=failed")
    '/login?next=/runs%3Fstatus%3Dfailed'
    """
    target = safe_next(next_path)
    return LOGIN_PATH if target == "/" else f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/``: never another site.

    ``//evil.example``, ``/\\evil.example``, ``https://evil.example`` and anything with
    control characters all give ``/`` (an open redirect would lend our name to phishing).

    >>> safe_next("/runs/3f2a"), safe_next("//evil.example/x")
    ('/runs/3f2a', '/')
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _refuse(request: Request, who: Principal, action: Action) -> None:
    needed = min(role for role in Role if allows(role, action))
    error = f"{who.name} ({who.role}) may not {action}: it needs the {needed} role"
    if csrf.is_unsafe(request.method):
        from dagwell.tracking.audit import record_audit

        record_audit(
            who.name,
            str(action),
            request.url.path,
            outcome="denied",
            source=who.source,
            detail={"method": request.method, "role": str(who.role), "needs": str(needed)},
            settings=web_state(request).settings,
        )
    raise ApiError(
        403, error, f"ask an admin for the {needed} role: dagwell users set-role {who.name} ROLE"
    )


class AccessMiddleware:
    """ASGI middleware finding who is asking (token, session or nobody), refusing forged
    unsafe requests, and keeping the session cookie fresh; see the module docstring."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, open_mode: bool, cookies: SessionCookies
    ) -> None:
        self.app = app
        self.settings = settings
        self.open_mode = open_mode
        self.cookies = cookies
        self._users_checked_at = -OPEN_RECHECK_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.open_mode and await self._users_added_since_start():
            self._close(scope)
        request = Request(scope)
        path = request.url.path
        request.state.csrf_token = ""
        request.state.principal = ANONYMOUS
        extra: list[tuple[bytes, bytes]] = []
        if self.open_mode:
            request.state.principal = replace(
                ANONYMOUS_ADMIN, source="api" if problems.is_api_path(path) else "ui"
            )
            extra.append((ACCESS_HEADER.lower().encode(), b"open"))
        unsafe = csrf.is_unsafe(request.method)
        if unsafe and csrf.cross_site(request.headers):
            await self._refuse(
                scope,
                receive,
                send,
                403,
                "refused a change sent from another site's page",
                "use dagwell's own pages, or call the API from a script with a token",
            )
            return
        if not self.open_mode:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                if not await self._token(request, credentials.strip()):
                    answer = problems.problem(
                        401,
                        "invalid or revoked API token",
                        "make a new one with: dagwell tokens create USER",
                        **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
                    )
                    await answer(scope, receive, send)
                    return
            elif SESSION_COOKIE in request.cookies:
                https = scope.get("scheme") == "https"
                token = await self._session(request, extra, https=https)
                if token is not None and unsafe:
                    given, receive = await csrf.submitted_token(scope, receive)
                    if not csrf.matches(token, given):
                        await self._refuse(
                            scope,
                            receive,
                            send,
                            403,
                            "missing or wrong CSRF token: this form or page is stale",
                            "reload the page and try again; scripts should use an API "
                            f"token, not the session cookie (or send {csrf.HEADER})",
                        )
                        return
        await self.app(scope, receive, _adding(send, extra))

    async def _users_added_since_start(self) -> bool:
        """Whether a user exists now, on a server that started open (checked every
        :data:`OPEN_RECHECK_SECONDS`)."""
        if time.monotonic() - self._users_checked_at < OPEN_RECHECK_SECONDS:
            return False
        from dagwell.tracking.accounts import count_users

        self._users_checked_at = time.monotonic()
        return await run_in_threadpool(count_users, settings=self.settings) > 0

    def _close(self, scope: Scope) -> None:
        """Stop being open, here and in the app's state the pages and routes read (no more
        banner; ``/login`` shows the form): from this request on, everyone signs in."""
        self.open_mode = False
        state = scope["app"].state
        state.dagwell = replace(state.dagwell, open_mode=False)
        log.warning("a user has been added: this server is no longer open, everyone signs in")

    async def _token(self, request: Request, secret: str) -> bool:
        from dagwell.tracking.accounts import authenticate_token

        user = await run_in_threadpool(authenticate_token, secret, settings=self.settings)
        if user is None:
            return False
        request.state.principal = Principal(user.name, user.role, via="token", source="api")
        return True

    async def _session(
        self, request: Request, extra: list[tuple[bytes, bytes]], *, https: bool
    ) -> str | None:
        """Signs the request in from its session cookie; the session's CSRF token, or None
        (and the cookie deleted) when the session is over, its user is gone, or their
        password changed since it began."""
        from dagwell.tracking.accounts import user_and_stamp

        codec = await self.cookies.codec()
        session = codec.decode(request.cookies[SESSION_COOKIE])
        found = None
        if session is not None:
            found = await run_in_threadpool(user_and_stamp, session.user, settings=self.settings)
        if session is None or found is None or found[1] != session.stamp:
            extra.append(self.cookies.clear(https=https))
            return None
        user = found[0]
        request.state.principal = Principal(user.name, user.role, via="session", source="ui")
        request.state.csrf_token = session.csrf_token
        renewed = codec.refreshed(session)
        if renewed is not None:
            extra.append(self.cookies.issue(codec, renewed, https=https))
        return session.csrf_token

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, error: str, hint: str
    ) -> None:
        answer = problems.render(Request(scope, receive), status, error, hint)
        await answer(scope, receive, send)


def _adding(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` adding ``extra`` headers to the response, except a session cookie when the
    route set one itself (signing in or out wins over a refresh)."""
    if not extra:
        return send

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            own = f"{SESSION_COOKIE}=".encode()
            route_set_session = any(
                k.lower() == b"set-cookie" and v.startswith(own) for k, v in headers
            )
            for key, value in extra:
                if route_set_session and key == b"set-cookie" and value.startswith(own):
                    continue
                headers.append((key, value))
            message["headers"] = headers
        await send(message)

    return send_with_headers
