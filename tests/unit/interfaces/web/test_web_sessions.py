"""Session cookies: signed, checked, expiring when idle or old, renewed now and then."""

from __future__ import annotations

from dagwell.interfaces.web.sessions import (
    IDLE_TIMEOUT,
    MAX_LIFETIME,
    RESIGN_AFTER,
    Session,
    SessionCodec,
    set_cookie_header,
)


class Clock:
    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_survives_the_round_trip() -> None:
    codec = SessionCodec("secret", clock=Clock())
    session = codec.start("ada", "tok", "st4mp")
    assert codec.decode(codec.encode(session)) == session


def test_a_cookie_signed_with_another_secret_or_edited_is_refused() -> None:
    clock = Clock()
    value = SessionCodec("secret", clock=clock).encode(Session("ada", "tok", clock(), clock()))
    assert SessionCodec("other secret", clock=clock).decode(value) is None
    mine = SessionCodec("secret", clock=clock)
    payload, signature = value.rsplit(".", 1)
    assert mine.decode(payload + "." + signature[::-1]) is None
    assert mine.decode("") is None
    assert mine.decode("not a cookie at all") is None


def test_a_session_ends_after_idle_timeout_and_after_max_lifetime() -> None:
    clock = Clock()
    codec = SessionCodec("secret", clock=clock)
    session = codec.start("ada", "tok", "st4mp")
    value = codec.encode(session)
    clock.now += IDLE_TIMEOUT - 1
    assert codec.decode(value) == session
    clock.now += 2
    assert codec.decode(value) is None

    busy = codec.start("ada", "tok", "st4mp")  # renewed all the time, yet it ends
    clock.now += MAX_LIFETIME + 1
    assert codec.decode(codec.encode(Session("ada", "tok", busy.issued, clock.now))) is None


def test_a_session_is_signed_again_only_now_and_then() -> None:
    clock = Clock()
    codec = SessionCodec("secret", clock=clock)
    session = codec.start("ada", "tok", "st4mp")
    assert codec.refreshed(session) is None
    clock.now += RESIGN_AFTER
    renewed = codec.refreshed(session)
    assert renewed is not None
    assert (renewed.user, renewed.csrf_token, renewed.issued, renewed.stamp) == (
        "ada",
        "tok",
        session.issued,
        "st4mp",
    )
    assert renewed.signed == clock.now


def test_cookies_are_http_only_and_same_site_lax_and_secure_when_asked() -> None:
    name, value = set_cookie_header("dagwell_session", "abc", max_age=60, secure=False)
    assert name == b"set-cookie"
    text = value.decode()
    assert text.startswith("dagwell_session=abc;")
    assert "HttpOnly" in text and "SameSite=Lax" in text and "Max-Age=60" in text
    assert "Path=/" in text and "Secure" not in text
    _, secure = set_cookie_header("dagwell_session", "", max_age=0, secure=True)
    assert b"Secure" in secure and b"Max-Age=0" in secure
