"""Browser sessions: a signed cookie saying who signed in, their CSRF token and since when.

Nothing is kept on the server: the cookie holds the user name, the session's CSRF token,
when it was issued and when it was last signed, signed (HMAC-SHA256, itsdangerous) with the
install's ``session`` secret from :func:`dagwell.tracking.accounts.install_secret`. Every
server on one metadata database therefore accepts the others' cookies, and a restart signs
nobody out. The user is looked up on every request (:mod:`~dagwell.interfaces.web.access`),
so a removed user or a changed role counts at once; the cookie also holds a stamp of the
password it was signed in with (:func:`dagwell.tracking.accounts.password_stamp`), so a
changed password ends every session begun with the old one.

A session ends after :data:`IDLE_TIMEOUT` without a request, or :data:`MAX_LIFETIME`
after sign-in whatever happens; the cookie is signed again (so its idle clock restarts) at
most every :data:`RESIGN_AFTER`, not on every response.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagwell.settings import Settings

SESSION_COOKIE = "dagwell_session"
"""The name of the session cookie."""

LOGIN_COOKIE = "dagwell_login"
"""The name of the pre-session cookie holding the sign-in form's CSRF token."""

IDLE_TIMEOUT = 12 * 3600.0
"""Seconds without a request after which a session is over."""

MAX_LIFETIME = 7 * 24 * 3600.0
"""Seconds after sign-in after which a session is over, however busy."""

RESIGN_AFTER = 300.0
"""Seconds after which a request's cookie is signed again, restarting its idle clock."""

_SALT = "dagwell.session"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: ``user``, the ``csrf_token`` its forms send back, when the
    session was ``issued`` and last ``signed`` (seconds since the epoch), and the ``stamp``
    of the password it signed in with.

    >>> Session("ada", "k3Yq...", issued=1767225600.0, signed=1767225600.0, stamp="9f86d081")
    """

    user: str
    csrf_token: str
    issued: float
    signed: float
    stamp: str = ""


class SessionCodec:
    """Turns a :class:`Session` into a cookie value and back, checking signature and age.

    ``clock`` gives the time in seconds since the epoch (tests pass their own).

    >>> codec = SessionCodec(install_secret("session"))
    >>> codec.decode(codec.encode(Session("ada", "tok", time.time(), time.time(), "9f86"))).user
    'ada'
    """

    def __init__(
        self,
        secret: str,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        max_lifetime: float = MAX_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from itsdangerous import URLSafeSerializer

        self._serializer = URLSafeSerializer(
            secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.clock = clock

    def start(self, user: str, csrf_token: str, stamp: str) -> Session:
        """A new session of ``user``, signed in with the password of ``stamp``, issued now."""
        now = self.clock()
        return Session(user, csrf_token, issued=now, signed=now, stamp=stamp)

    def encode(self, session: Session) -> str:
        """The cookie value for ``session``, signed as it is."""
        payload = {
            "u": session.user,
            "c": session.csrf_token,
            "i": session.issued,
            "s": session.signed,
            "p": session.stamp,
        }
        return self._serializer.dumps(payload)

    def decode(self, value: str) -> Session | None:
        """The session in cookie ``value``; None when it is forged, malformed or expired."""
        from itsdangerous import BadData

        try:
            payload: Any = self._serializer.loads(value)
        except (BadData, ValueError, TypeError):
            return None
        try:
            session = Session(
                str(payload["u"]),
                str(payload["c"]),
                float(payload["i"]),
                float(payload["s"]),
                str(payload.get("p", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None
        now = self.clock()
        if now - session.signed > self.idle_timeout or now - session.issued > self.max_lifetime:
            return None
        if not session.user or not session.csrf_token:
            return None
        return session

    def refreshed(self, session: Session) -> Session | None:
        """``session`` signed again now, when its signature is old enough to renew."""
        now = self.clock()
        if now - session.signed < RESIGN_AFTER:
            return None
        return replace(session, signed=now)

    @property
    def cookie_max_age(self) -> int:
        """How long a browser keeps the cookie: the idle timeout (the signature checks the
        rest)."""
        return int(self.idle_timeout)


def set_cookie_header(
    name: str, value: str, *, max_age: int, secure: bool, path: str = "/"
) -> tuple[bytes, bytes]:
    """A ``Set-Cookie`` header (name, value) for an ``HttpOnly``, ``SameSite=Lax`` cookie;
    ``max_age=0`` deletes it.

    >>> set_cookie_header("dagwell_session", "abc", max_age=3600, secure=True)
    (b'set-cookie', b'dagwell_session=abc; HttpOnly; Max-Age=3600; Path=/; SameSite=Lax; Secure')
    """
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["max-age"] = max_age
    morsel["path"] = path
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    if secure:
        morsel["secure"] = True
    return b"set-cookie", morsel.OutputString().encode("latin-1")


class SessionCookies:
    """The app's session cookies: the codec, keyed by the install's ``session`` secret
    (read from the database when first needed), and the ``Set-Cookie`` headers.

    Cookies are ``Secure`` on https requests, and on every request with ``secure=True``
    (``dagwell ui --secure-cookies``, behind a proxy that ends TLS).

    >>> cookies = SessionCookies(settings)
    >>> codec = await cookies.codec()
    """

    def __init__(
        self,
        settings: Settings,
        *,
        secure: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.secure = secure
        self.clock = clock
        self._codec: SessionCodec | None = None

    async def codec(self) -> SessionCodec:
        """The codec signing and checking this install's session cookies."""
        if self._codec is None:
            from starlette.concurrency import run_in_threadpool

            from dagwell.tracking.accounts import install_secret

            secret = await run_in_threadpool(install_secret, "session", settings=self.settings)
            self._codec = SessionCodec(secret, clock=self.clock)
        return self._codec

    def issue(self, codec: SessionCodec, session: Session, *, https: bool) -> tuple[bytes, bytes]:
        """The header setting the session cookie to ``session``."""
        return set_cookie_header(
            SESSION_COOKIE,
            codec.encode(session),
            max_age=codec.cookie_max_age,
            secure=self.secure or https,
        )

    def clear(self, *, https: bool) -> tuple[bytes, bytes]:
        """The header deleting the session cookie (signed out, expired, or user removed)."""
        return set_cookie_header(SESSION_COOKIE, "", max_age=0, secure=self.secure or https)
