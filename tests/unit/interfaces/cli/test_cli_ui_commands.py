"""``dagwell ui``: which addresses count as loopback (open mode is allowed only there), and
the app it serves: open without users, asking for sign-in with them."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import dagwell as dw
from dagwell.interfaces.cli.main import cli
from dagwell.interfaces.cli.ui_commands import is_loopback
from dagwell.tracking.accounts import add_user


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


def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> Any:
    """Run ``dagwell ui ARGS`` up to the point it would serve; the app it would serve."""
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # leave pytest's handlers be
    done = CliRunner().invoke(cli, ["ui", *args], env={"DAGWELL_HOME": str(tmp_path)})
    assert done.exit_code == 0, done.output
    return served[0], done.output


def test_with_users_the_ui_asks_for_sign_in_with_secure_cookies_if_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path)
    add_user("ada", "admin", settings=settings)
    app, output = serve(monkeypatch, tmp_path, "--host", "0.0.0.0", "--secure-cookies")
    assert app.state.dagwell.open_mode is False
    assert app.state.sessions.secure is True
    assert "sign-in required: http://0.0.0.0:8765/login" in output
    app, _ = serve(monkeypatch, tmp_path)
    assert app.state.sessions.secure is False


def test_without_users_on_loopback_the_ui_runs_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app, output = serve(monkeypatch, tmp_path)
    assert app.state.dagwell.open_mode is True
    assert "open: no users" in output
