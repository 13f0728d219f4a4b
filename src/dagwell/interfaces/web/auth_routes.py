"""Signing in and out of the web UI: ``GET /login`` (the form), ``POST /login``,
``POST /logout``.

Signing in checks the password (:func:`dagwell.tracking.accounts.sign_in`),
starts a :class:`~dagwell.interfaces.web.sessions.Session` with a fresh CSRF token, sets
its cookie and goes back to ``next`` (a path on this site only). The form itself is
guarded by a pre-session token: a random value in the ``dagwell_login`` cookie that the
form must send back, so another site cannot sign a browser in as someone else.

A failed sign-in says only "wrong name or password" (whether the name exists stays
unknown), is written to the audit log (outcome ``denied``), and is answered after a short
delay; after :attr:`LoginThrottle.max_failures` failures for one address and name, that
pair must wait. Every sign-in and sign-out is audited, source ``ui``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from dagwell.interfaces.web import csrf
from dagwell.interfaces.web.access import LOGIN_PATH, SIGN_IN, Principal, require, safe_next
from dagwell.interfaces.web.sessions import LOGIN_COOKIE, SessionCookies, set_cookie_header
from dagwell.interfaces.web.state import web_state

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

LOGIN_FORM_LIFETIME = 3600
"""Seconds a sign-in form stays valid (its pre-session cookie's lifetime)."""

_GENERIC_FAILURE = "Wrong name or password."


class LoginThrottle:
    """Slows password guessing, per client address and user name (in this process).

    Each failure is answered after ``delay`` seconds; after ``max_failures`` failures
    within ``window`` seconds, the pair is refused until the oldest of them is ``window``
    old. A success forgets the pair's failures.

    >>> throttle = LoginThrottle(max_failures=5, window=900, delay=0.5)
    >>> throttle.wait_for(("203.0.113.9", "ada"))
    0.0
    """

    MAX_PAIRS = 10_000
    """Pairs remembered at most; past that, those with only old failures are forgotten."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 900.0,
        delay: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.delay = delay
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}

    def wait_for(self, key: tuple[str, str]) -> float:
        """Seconds ``key`` must wait before trying again (0: it may try now)."""
        recent = self._recent(key)
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[-self.max_failures] + self.window - self.clock())

    def failed(self, key: tuple[str, str]) -> None:
        """Note a failed sign-in of ``key``."""
        self._failures[key] = [*self._recent(key), self.clock()]
        if len(self._failures) > self.MAX_PAIRS:
            for old in [k for k in self._failures if not self._recent(k)]:
                del self._failures[old]

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures: it signed in."""
        self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        since = self.clock() - self.window
        return [at for at in self._failures.get(key, ()) if at > since]


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    who: Annotated[Principal, Depends(require(SIGN_IN))],
    next: str = "/",
) -> Response:
    """The sign-in form; someone signed in already (or an open UI) goes on to ``next``."""
    target = safe_next(next)
    if web_state(request).open_mode or who.via == "session":
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


@router.post("/login")
async def login(
    request: Request,
    who: Annotated[Principal, Depends(require(SIGN_IN))],
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the name and password; on success set the session cookie and go to ``next``
    (303), else show the form again: 401 for a wrong name or password, 403 for a stale
    form, 429 after too many failures."""
    state = web_state(request)
    target = safe_next(next)
    if state.open_mode:
        return RedirectResponse(target, status_code=303)
    # Signed in already, the middleware checked the session's token; else the form's.
    if who.via != "session" and not csrf.matches(request.cookies.get(LOGIN_COOKIE, ""), csrf_token):
        error = "This sign-in form has expired or came from elsewhere; please sign in again."
        return _form(request, target, name=name, error=error, status=403)
    address = request.client.host if request.client else "unknown"
    key = (address, name.strip().lower())
    throttle: LoginThrottle = request.app.state.login_throttle
    wait = throttle.wait_for(key)
    if wait > 0:
        await _audit(request, name, "denied", {"reason": "too many failed sign-ins", "ip": address})
        minutes = max(1, math.ceil(wait / 60))
        error = f"Too many failed sign-ins. Try again in {minutes} minute(s)."
        refused = _form(request, target, name=name, error=error, status=429)
        refused.headers["Retry-After"] = str(math.ceil(wait))
        return refused

    from dagwell.tracking.accounts import sign_in

    # Counted as a failure before the check, with no await in between: guesses sent all at
    # once are throttled like guesses sent one after another. A success clears it.
    throttle.failed(key)
    signed_in = await run_in_threadpool(sign_in, name, password, settings=state.settings)
    if signed_in is None:
        await _audit(request, name, "denied", {"reason": "wrong name or password", "ip": address})
        await asyncio.sleep(throttle.delay)
        return _form(request, target, name=name, error=_GENERIC_FAILURE, status=401)
    user, stamp = signed_in
    throttle.succeeded(key)
    await _audit(request, user.name, "ok", {"ip": address})
    cookies: SessionCookies = request.app.state.sessions
    codec = await cookies.codec()
    session = codec.start(user.name, csrf.new_token(), stamp)  # a new token: nothing carried
    response = RedirectResponse(target, status_code=303)
    response.raw_headers.append(cookies.issue(codec, session, https=_https(request)))
    response.raw_headers.append(_login_cookie(request, "", max_age=0, secure=cookies.secure))
    return response


@router.post("/logout")
async def logout(
    request: Request,
    who: Annotated[Principal, Depends(require(SIGN_IN))],
) -> Response:
    """Sign out: delete the session cookie and go to the sign-in page (303)."""
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    if who.via == "session":
        from dagwell.tracking.audit import record_audit

        await run_in_threadpool(
            record_audit,
            who.name,
            "logout",
            outcome="ok",
            source="ui",
            settings=web_state(request).settings,
        )
        cookies: SessionCookies = request.app.state.sessions
        response.raw_headers.append(cookies.clear(https=_https(request)))
    return response


def _form(
    request: Request,
    target: str,
    *,
    name: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The sign-in page, with a pre-session token in its form and in its cookie."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    if len(token) < 32 or not token.isascii():
        token = csrf.new_token()
    context: dict[str, Any] = {"login_token": token, "next": target, "name": name, "error": error}
    response: HTMLResponse = templates.TemplateResponse(
        request, "login.html", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    secure: bool = request.app.state.sessions.secure
    response.raw_headers.append(
        _login_cookie(request, token, max_age=LOGIN_FORM_LIFETIME, secure=secure)
    )
    return response


def _login_cookie(
    request: Request, value: str, *, max_age: int, secure: bool
) -> tuple[bytes, bytes]:
    return set_cookie_header(
        LOGIN_COOKIE, value, max_age=max_age, secure=secure or _https(request), path=LOGIN_PATH
    )


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


async def _audit(request: Request, name: str, outcome: str, detail: dict[str, Any]) -> None:
    from dagwell.tracking.audit import record_audit

    # The name as typed: it may be anyone's, or nobody's; keep the log readable.
    actor = name.strip()[:64] or "(no name)"
    await run_in_threadpool(
        record_audit,
        actor,
        "login",
        outcome=outcome,
        source="ui",
        detail=detail,
        settings=web_state(request).settings,
    )
