"""An open UI answers only to this machine's own names (DNS-rebinding protection).

A web page on another site can rebind its DNS name to 127.0.0.1 and so reach a server on
loopback from a visitor's browser; its requests still carry the other site's name in the
``Host`` header. :class:`LoopbackHostMiddleware` refuses them with 400. Unlike Starlette's
``TrustedHostMiddleware``, it reads bracketed IPv6 hosts (``[::1]:8765``) correctly.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from dagwell.interfaces.web import problems

# host[:port]: a DNS name or IPv4 address, or an IPv6 address in brackets; nothing else.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?")


def loopback_names(host: str) -> frozenset[str]:
    """The host names an open server bound to ``host`` answers to: that address, the
    loopback addresses and ``localhost`` (any ``*.localhost`` too, see
    :func:`host_allowed`).

    >>> sorted(loopback_names("[::1]"))
    ['127.0.0.1', '::1', 'localhost']
    """
    return frozenset({host.strip("[]").lower(), "127.0.0.1", "::1", "localhost"} - {""})


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower case, without port or IPv6 brackets; ``""``
    when it is not a host at all.

    >>> host_name("[::1]:8765"), host_name("LocalHost:80"), host_name("a b")
    ('::1', 'localhost', '')
    """
    found = _HOST.fullmatch(header)
    if found is None:
        return ""
    name = found["ipv6"] or found["name"]
    return name.lower().rstrip(".")  # "localhost." is the same name, fully qualified


def host_allowed(header: str, names: frozenset[str]) -> bool:
    """Whether a request with ``Host: header`` is for one of ``names`` or ``*.localhost``.

    >>> host_allowed("app.localhost:8765", loopback_names("127.0.0.1"))
    True
    """
    name = host_name(header)
    return name in names or name.endswith(".localhost")


class LoopbackHostMiddleware:
    """ASGI middleware refusing (400) every request whose ``Host`` is not one of ``names``."""

    def __init__(self, app: ASGIApp, *, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            hosts = [v for k, v in scope.get("headers") or [] if k.lower() == b"host"]
            header = hosts[0].decode("latin-1") if len(hosts) == 1 else ""  # one, not two
            if not host_allowed(header, self.names):
                refused = problems.problem(
                    400,
                    f"this open server answers only to its own names, not to {header!r}",
                    f"open it at one of: {', '.join(sorted(self.names))}",
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
