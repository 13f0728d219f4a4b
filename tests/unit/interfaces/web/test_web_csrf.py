"""CSRF tokens: compared in constant time, found in the header or the form, body kept."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import Headers

from dagwell.interfaces.web import csrf


def test_tokens_are_random_and_compared_exactly() -> None:
    token = csrf.new_token()
    assert len(token) >= 43 and token != csrf.new_token()
    assert csrf.matches(token, token)
    assert not csrf.matches(token, token[:-1])
    assert not csrf.matches(token, None)
    assert not csrf.matches("", "")


def test_only_changes_and_cross_site_requests_are_flagged() -> None:
    assert [
        m for m in ("GET", "HEAD", "OPTIONS", "POST", "put", "PATCH", "DELETE") if csrf.is_unsafe(m)
    ] == ["POST", "put", "PATCH", "DELETE"]
    assert csrf.cross_site(Headers({"sec-fetch-site": "cross-site"}))
    assert not csrf.cross_site(Headers({"sec-fetch-site": "same-origin"}))
    assert not csrf.cross_site(Headers({}))


def scope(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


def sender(*chunks: bytes) -> Any:
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


def found(headers: dict[str, str], *chunks: bytes) -> tuple[str | None, bytes]:
    async def go() -> tuple[str | None, bytes]:
        token, receive = await csrf.submitted_token(scope(headers), sender(*chunks))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                return token, body

    return asyncio.run(go())


def test_the_header_wins_and_the_body_is_left_unread() -> None:
    assert found({"X-CSRF-Token": "abc"}, b"csrf_token=zzz") == ("abc", b"csrf_token=zzz")


def test_the_form_field_is_found_and_the_body_handed_on_whole() -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert found(form, b"name=ada&csrf_", b"token=abc") == ("abc", b"name=ada&csrf_token=abc")
    multipart = {"content-type": "multipart/form-data; boundary=B"}
    body = b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nabc\r\n--B--\r\n'
    assert found(multipart, body) == ("abc", body)


def test_json_and_oversized_or_broken_forms_carry_no_token() -> None:
    assert found({"content-type": "application/json"}, b'{"csrf_token": "abc"}')[0] is None
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert found(form, b"csrf_token=abc&x=" + b"y" * csrf.MAX_FORM_BYTES)[0] is None
    broken = {"content-type": "multipart/form-data; boundary=B"}
    assert found(broken, b"--B\r\nnonsense")[0] is None
