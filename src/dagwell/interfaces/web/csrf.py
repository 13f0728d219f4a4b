"""Cross-site request forgery: what an unsafe request must carry to count as the user's own.

A browser sends the session cookie with any request to the server, including one another
site's page makes it send. So every unsafe request (POST, PUT, PATCH, DELETE) signed in by
the session cookie must also send the session's token, which only our pages know: htmx
sends it as the ``X-CSRF-Token`` header, a plain form as the hidden field ``csrf_token``.
Requests signed in with ``Authorization: Bearer`` need none: no cookie is involved, so no
other site can make a browser send them.

Besides, an unsafe request the browser itself marks as coming from another site
(``Sec-Fetch-Site: cross-site``) is refused whoever sends it, which also guards a UI
running open on loopback, where nobody signs in.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

HEADER = "X-CSRF-Token"
"""The request header carrying the token (htmx's ``hx-headers``)."""

FIELD = "csrf_token"
"""The form field carrying the token (a hidden input of every form)."""

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change something, and so must prove where they come from."""

MAX_FORM_BYTES = 1 << 20
"""The largest form body read to find the token; bigger forms must send the header."""

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_token() -> str:
    """A fresh random token (43 URL-safe characters) for a session or a sign-in form."""
    return secrets.token_urlsafe(32)


def matches(expected: str, given: str | None) -> bool:
    """True when ``given`` is the non-empty ``expected`` token (in constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def is_unsafe(method: str) -> bool:
    """True for the methods that must carry a token when signed in by cookie."""
    return method.upper() in UNSAFE_METHODS


def cross_site(headers: Headers) -> bool:
    """True when the browser says another site's page sent this request."""
    return headers.get("sec-fetch-site", "").lower() == "cross-site"


async def submitted_token(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The token a request carries (header first, then the form field), and the
    ``receive`` the app must read the body from from now on.

    Finding the form field means reading the body; the returned ``receive`` hands the
    same body to the app, then passes on what the client sends next (a disconnect).

    >>> token, receive = await submitted_token(scope, receive)
    """
    headers = Headers(scope=scope)
    token = headers.get(HEADER)
    if token is not None:
        return token, receive
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _FORM_TYPES:
        return None, receive
    body = await _read_body(receive)
    if body is None:
        return None, receive
    try:
        form = await Request(scope, _replaying(body, receive)).form()
    except HTTPException:  # a malformed multipart body: no token in it
        return None, _replaying(body, receive)
    try:
        value = form.get(FIELD)
    finally:
        await form.close()
    return (value if isinstance(value, str) else None), _replaying(body, receive)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body; None when the client left or it is over :data:`MAX_FORM_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
