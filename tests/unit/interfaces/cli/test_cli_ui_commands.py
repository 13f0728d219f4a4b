"""``dagwell ui``: which addresses count as loopback (open mode is allowed only there)."""

from __future__ import annotations

import pytest

from dagwell.interfaces.cli.ui_commands import is_loopback


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com", "", "localhost.example.com"]
)
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)
