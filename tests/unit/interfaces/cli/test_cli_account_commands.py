"""Tests for dagwell.interfaces.cli.account_commands: typing a password at a terminal.

The rest of ``dagwell users``, ``tokens`` and ``audit`` runs as a subprocess in
``tests/e2e/test_e2e_accounts.py``; a terminal is easier to fake in-process.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import dagwell as dw
from dagwell.interfaces.cli import account_commands
from dagwell.interfaces.cli.main import cli
from dagwell.tracking.accounts import add_user, authenticate_password


@pytest.fixture
def at_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the commands believe stdin is a terminal (CliRunner's never is)."""
    monkeypatch.setattr(account_commands, "_at_terminal", lambda: True)


def test_users_add_asks_for_the_password_twice_without_echo(
    at_terminal: None, settings: dw.Settings
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--home", str(settings.home), "users", "add", "ada", "--role", "admin"],
        input="correct horse\ncorrect horse\n",
    )

    assert result.exit_code == 0, result.output
    assert "password for ada" in result.output
    assert "repeat it" in result.output
    assert "correct horse" not in result.output
    assert authenticate_password("ada", "correct horse", settings=settings) is not None


def test_a_mistyped_repeat_asks_again(at_terminal: None, settings: dw.Settings) -> None:
    result = CliRunner().invoke(
        cli,
        ["--home", str(settings.home), "users", "add", "ada", "--role", "admin"],
        input="correct horse\ncorrect h0rse\nbattery staple\nbattery staple\n",
    )

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert authenticate_password("ada", "battery staple", settings=settings) is not None
    assert authenticate_password("ada", "correct horse", settings=settings) is None


def test_users_set_password_asks_at_a_terminal(at_terminal: None, settings: dw.Settings) -> None:
    add_user("ada", "admin", "correct horse", settings=settings)

    result = CliRunner().invoke(
        cli,
        ["--home", str(settings.home), "users", "set-password", "ada"],
        input="battery staple\nbattery staple\n",
    )

    assert result.exit_code == 0, result.output
    assert authenticate_password("ada", "battery staple", settings=settings) is not None


def test_the_audit_actor_is_cli_and_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_commands.getpass, "getuser", lambda: "maria")

    assert account_commands._actor() == "cli:maria"

    def no_user() -> str:
        raise OSError("no user name for uid 1234")

    monkeypatch.setattr(account_commands.getpass, "getuser", no_user)
    assert account_commands._actor() == "cli:unknown"
