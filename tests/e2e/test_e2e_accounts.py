"""Accounts from the command line: ``dagwell users``, ``dagwell tokens`` and ``dagwell audit``.

The real ``dagwell`` command runs as a subprocess; what it wrote is checked the way the web
app will use it (signing in with the password, sending the token).
"""

from __future__ import annotations

import getpass
import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

import dagwell as dw
from dagwell.tracking.accounts import authenticate_password, authenticate_token
from dagwell_process import dagwell_env, run_dagwell

pytestmark = pytest.mark.e2e

Dagwell = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def dagwell(tmp_path: Path) -> Dagwell:
    """``run_cli`` with stdin: ``dagwell(*args, input="...")``; stdin is never a terminal."""
    env = dagwell_env({"DAGWELL_HOME": str(tmp_path / "home")})

    def run(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
        return run_dagwell(tmp_path, env, *args, input=input)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error a user sees: exit ``code``, one line on stderr, no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def test_a_user_added_with_password_stdin_signs_in_with_it(
    dagwell: Dagwell, settings: dw.Settings
) -> None:
    result = ok(
        dagwell(
            "users", "add", "ada", "--role", "admin", "--password-stdin", input="correct horse\n"
        )
    )

    assert "added user ada (admin)" in result.stdout
    user = authenticate_password("ada", "correct horse", settings=settings)
    assert user is not None and user.role == "admin"
    assert authenticate_password("ada", "correct horse\n", settings=settings) is None


def test_users_list_shows_names_and_roles_never_hashes(dagwell: Dagwell) -> None:
    ok(dagwell("users", "add", "zoe", "--role", "viewer", "--no-password"))
    ok(dagwell("users", "add", "ada", "--role", "admin", "--password-stdin", input="correct horse"))

    table = ok(dagwell("users", "list")).stdout
    listed = json.loads(ok(dagwell("users", "list", "--json")).stdout)

    assert table.index("ada") < table.index("zoe")
    assert [(u["name"], u["role"], u["has_password"]) for u in listed] == [
        ("ada", "admin", True),
        ("zoe", "viewer", False),
    ]
    assert "argon2" not in table + json.dumps(listed)


def test_without_a_terminal_a_password_must_be_piped_or_declined(
    dagwell: Dagwell, settings: dw.Settings
) -> None:
    result = dagwell("users", "add", "ada", "--role", "admin")

    assert "--password-stdin" in one_line_error(result, 2)
    assert json.loads(ok(dagwell("users", "list", "--json")).stdout) == []


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (("--role", "admin", "--password-stdin"), "short\n", 2, "at least 8 characters"),
        (("--role", "admin", "--password-stdin"), "\n", 2, "empty line"),
        (("--role", "root", "--no-password"), "", 2, "'viewer', 'operator', 'admin'"),
    ],
)
def test_bad_input_is_one_clear_line(
    dagwell: Dagwell, args: tuple[str, ...], stdin: str, code: int, message: str
) -> None:
    result = dagwell("users", "add", "ada", *args, input=stdin)

    assert message in one_line_error(result, code)


def test_a_taken_name_and_an_unknown_user_are_clear_errors(dagwell: Dagwell) -> None:
    ok(dagwell("users", "add", "ada", "--role", "admin", "--no-password"))

    taken = dagwell("users", "add", "ada", "--role", "viewer", "--no-password")
    unknown = dagwell("users", "remove", "nobody")

    assert "already exists" in one_line_error(taken, 2)
    assert "no user named 'nobody'" in one_line_error(unknown, 3)


def test_a_token_is_printed_once_alone_on_stdout_and_works(
    dagwell: Dagwell, settings: dw.Settings
) -> None:
    ok(dagwell("users", "add", "ci", "--role", "operator", "--no-password"))

    result = ok(dagwell("tokens", "create", "ci", "--label", "nightly"))

    token = result.stdout.strip()
    assert result.stdout == token + "\n"  # TOKEN=$(dagwell tokens create ci) keeps just it
    assert token.startswith("dwt_")
    assert "will not be shown again" in result.stderr
    user = authenticate_token(token, settings=settings)
    assert user is not None and (user.name, user.role) == ("ci", "operator")
    listing = ok(dagwell("tokens", "list")).stdout + ok(dagwell("tokens", "list", "--json")).stdout
    assert token not in listing
    assert "nightly" in listing


def test_a_revoked_token_stops_working(dagwell: Dagwell, settings: dw.Settings) -> None:
    ok(dagwell("users", "add", "ci", "--role", "operator", "--no-password"))
    token = ok(dagwell("tokens", "create", "ci")).stdout.strip()
    [info] = json.loads(ok(dagwell("tokens", "list", "--user", "ci", "--json")).stdout)

    result = ok(dagwell("tokens", "revoke", info["id"]))

    assert f"revoked API token {info['id']} of ci" in result.stdout
    assert authenticate_token(token, settings=settings) is None
    [after] = json.loads(ok(dagwell("tokens", "list", "--json")).stdout)
    assert after["revoked"] is True
    assert "revoked" in ok(dagwell("tokens", "list")).stdout
    assert "no API token" in one_line_error(dagwell("tokens", "revoke", "nope"), 3)


def test_removing_a_user_revokes_their_tokens(dagwell: Dagwell, settings: dw.Settings) -> None:
    ok(dagwell("users", "add", "ci", "--role", "operator", "--no-password"))
    token = ok(dagwell("tokens", "create", "ci")).stdout.strip()

    result = ok(dagwell("users", "remove", "ci"))

    assert "removed user ci and their 1 API token" in result.stdout
    assert authenticate_token(token, settings=settings) is None
    assert json.loads(ok(dagwell("tokens", "list", "--json")).stdout) == []


def test_set_role_and_set_password_apply(dagwell: Dagwell, settings: dw.Settings) -> None:
    ok(dagwell("users", "add", "ada", "--role", "admin", "--no-password"))
    ok(dagwell("users", "add", "grace", "--role", "viewer", "--password-stdin", input="first pass"))

    ok(dagwell("users", "set-role", "grace", "operator"))
    changed = ok(
        dagwell("users", "set-password", "grace", "--password-stdin", input="second pass\n")
    )
    assert "browsers signed in as grace must sign in again" in changed.stdout

    assert authenticate_password("grace", "first pass", settings=settings) is None
    user = authenticate_password("grace", "second pass", settings=settings)
    assert user is not None and user.role == "operator"
    ok(dagwell("users", "set-password", "grace", "--no-password"))
    assert authenticate_password("grace", "second pass", settings=settings) is None


def test_the_last_admin_stays(dagwell: Dagwell) -> None:
    ok(dagwell("users", "add", "ada", "--role", "admin", "--no-password"))

    removed = dagwell("users", "remove", "ada")
    demoted = dagwell("users", "set-role", "ada", "viewer")

    assert "last admin" in one_line_error(removed, 2)
    assert "last admin" in one_line_error(demoted, 2)


def test_every_account_change_is_audited_with_who_what_and_when(dagwell: Dagwell) -> None:
    ok(dagwell("users", "add", "ada", "--role", "admin", "--no-password"))
    ok(dagwell("users", "add", "ci", "--role", "operator", "--no-password"))
    ok(dagwell("tokens", "create", "ci", "--label", "nightly"))
    [token] = json.loads(ok(dagwell("tokens", "list", "--json")).stdout)
    ok(dagwell("tokens", "revoke", token["id"]))
    ok(dagwell("users", "set-role", "ci", "viewer"))
    dagwell("users", "add", "ci", "--role", "viewer", "--no-password")  # refused: taken
    ok(dagwell("users", "remove", "ci"))

    entries = json.loads(ok(dagwell("audit", "--json")).stdout)

    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("remove_user", "ci", "ok"),
        ("add_user", "ci", "failed"),
        ("set_role", "ci", "ok"),
        ("revoke_token", token["id"], "ok"),
        ("create_token", "ci", "ok"),
        ("add_user", "ci", "ok"),
        ("add_user", "ada", "ok"),
    ]
    assert {(e["actor"], e["source"]) for e in entries} == {(f"cli:{os_user()}", "cli")}
    assert entries[1]["detail"]["error"].startswith("user 'ci' already exists")
    assert entries[4]["detail"] == {"label": "nightly", "token_id": token["id"]}
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(t.tzinfo is not None for t in times)
    assert "dwt_" not in json.dumps(entries)  # the secret itself is never logged


def test_audit_filters_and_prints_a_table(dagwell: Dagwell) -> None:
    ok(dagwell("users", "add", "ada", "--role", "admin", "--no-password"))
    ok(dagwell("users", "set-role", "ada", "admin"))

    only_adds = json.loads(ok(dagwell("audit", "--action", "add_user", "--json")).stdout)
    newest = json.loads(ok(dagwell("audit", "--limit", "1", "--json")).stdout)
    later = json.loads(ok(dagwell("audit", "--since", "2999-01-01", "--json")).stdout)
    recent = json.loads(ok(dagwell("audit", "--since", "1h", "--json")).stdout)
    nobody = ok(dagwell("audit", "--actor", "nobody")).stdout
    table = ok(dagwell("audit")).stdout

    assert [e["action"] for e in only_adds] == ["add_user"]
    assert [e["action"] for e in newest] == ["set_role"]
    assert (later, len(recent)) == ([], 2)
    assert "no audit entries" in nobody
    assert "set_role" in table and "add_user" in table and f"cli:{os_user()}" in table
    assert "expected a date" in one_line_error(dagwell("audit", "--since", "yesterday"), 2)
