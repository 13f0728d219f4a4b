"""``dagwell users``, ``dagwell tokens`` and ``dagwell audit``: who may use the web UI and API.

Every change made here is written to the audit log as actor ``cli:<OS user>``, source
``cli``: done (``ok``) or refused (``failed``, with the reason).
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from dagwell.errors import DagwellError
from dagwell.interfaces.cli.context import CliContext
from dagwell.interfaces.cli.inspect_commands import parse_moment

if TYPE_CHECKING:
    from dagwell.tracking.accounts import TokenInfo
    from dagwell.tracking.audit import AuditEntry

ROLES = click.Choice(["viewer", "operator", "admin"])


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli:unknown"


@contextmanager
def _audited(
    ctx: CliContext, action: str, target: str, detail: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Record ``action`` on ``target`` once the block ends: ``ok``, or ``failed`` and why.

    The block may add facts to the yielded dict (a new token's id).
    """
    from dagwell.tracking.audit import record_audit

    facts: dict[str, Any] = dict(detail or {})
    try:
        yield facts
    except DagwellError as exc:
        facts["error"] = str(exc)
        record_audit(_actor(), action, target, "failed", "cli", facts, settings=ctx.settings)
        raise
    record_audit(_actor(), action, target, "ok", "cli", facts, settings=ctx.settings)


def _password(from_stdin: bool, no_password: bool, name: str) -> str | None:
    """The password to set: one line of stdin, typed twice at a terminal, or none."""
    if from_stdin and no_password:
        raise click.UsageError("use either --password-stdin or --no-password, not both")
    if no_password:
        return None
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: stdin held no password (an empty line)")
        return password
    if not _at_terminal():
        raise click.UsageError(
            "no terminal to type a password at: pass it with --password-stdin "
            '(echo "$PASSWORD" | dagwell users ...), or use --no-password for a user '
            "who signs in with API tokens only"
        )
    typed: str = click.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt="repeat it"
    )
    return typed


def _at_terminal() -> bool:
    return sys.stdin.isatty()


def _password_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--no-password",
        is_flag=True,
        help="No password: the user signs in with API tokens only.",
    )(command)
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin (for scripts).",
    )(command)


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


# -- dagwell users -----------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Manage who may sign in to the web UI: viewers see, operators also trigger, resume
    and cancel runs, admins also move model aliases and manage users and tokens."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="What the user may do.")
@_password_options
@click.pass_obj
def add_command(
    ctx: CliContext, name: str, role: str, password_stdin: bool, no_password: bool
) -> None:
    """Add user NAME with a role; asks for the password (twice) at a terminal."""
    from dagwell.tracking.accounts import add_user

    password = _password(password_stdin, no_password, name)
    with _audited(ctx, "add_user", name, {"role": role}):
        user = add_user(name, role, password, settings=ctx.settings)
    how = "with a password" if user.has_password else "for API tokens only"
    ctx.console.print(f"added user {user.name} ({user.role}), {how}", highlight=False)


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_users_command(ctx: CliContext, as_json: bool) -> None:
    """List users with their roles."""
    from dagwell.tracking.accounts import list_tokens, list_users

    found = list_users(settings=ctx.settings)
    if as_json:
        click.echo(json.dumps([u.to_dict() for u in found], indent=2))
        return
    if not found:
        ctx.console.print(
            "no users yet; add the first admin with: dagwell users add NAME --role admin",
            markup=False,
        )
        return
    active: dict[str, int] = {}
    for token in list_tokens(settings=ctx.settings):
        if not token.revoked:
            active[token.user] = active.get(token.user, 0) + 1
    table = Table(box=None, header_style="bold")
    for column in ("user", "role", "password", "tokens", "created", "changed"):
        table.add_column(column, overflow="fold")
    for u in found:
        table.add_row(
            Text(u.name),
            u.role.value,
            "yes" if u.has_password else "no",
            str(active.get(u.name, 0)),
            _when(u.created_at),
            _when(u.updated_at),
        )
    ctx.console.print(table)


@users_group.command("remove")
@click.argument("name")
@click.pass_obj
def remove_command(ctx: CliContext, name: str) -> None:
    """Remove user NAME and revoke their API tokens."""
    from dagwell.tracking.accounts import remove_user

    with _audited(ctx, "remove_user", name) as facts:
        tokens = facts["tokens_revoked"] = remove_user(name, settings=ctx.settings)
    also = f" and their {tokens} API token" + ("s" if tokens != 1 else "") if tokens else ""
    ctx.console.print(f"removed user {name}{also}", highlight=False, markup=False)


@users_group.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLES)
@click.pass_obj
def set_role_command(ctx: CliContext, name: str, role: str) -> None:
    """Give user NAME the role ROLE (from their next request on)."""
    from dagwell.tracking.accounts import set_role

    with _audited(ctx, "set_role", name, {"role": role}):
        user = set_role(name, role, settings=ctx.settings)
    ctx.console.print(f"user {user.name} is now {user.role}", highlight=False, markup=False)


@users_group.command("set-password")
@click.argument("name")
@_password_options
@click.pass_obj
def set_password_command(
    ctx: CliContext, name: str, password_stdin: bool, no_password: bool
) -> None:
    """Set user NAME's password; asks for it (twice) at a terminal. Browsers signed in
    with the old password are signed out."""
    from dagwell.tracking.accounts import set_password

    password = _password(password_stdin, no_password, name)
    action = "set_password" if password is not None else "remove_password"
    with _audited(ctx, action, name):
        set_password(name, password, settings=ctx.settings)
    done = "set" if password is not None else "removed (API tokens only)"
    ctx.console.print(
        f"password of {name} {done}; browsers signed in as {name} must sign in again "
        f"(their API tokens still work: dagwell tokens list / revoke)",
        highlight=False,
        markup=False,
    )


# -- dagwell tokens ----------------------------------------------------------------------------


@click.group("tokens")
def tokens_group() -> None:
    """Manage API tokens: scripts send one as 'Authorization: Bearer TOKEN' and act as its
    user, with that user's role."""


@tokens_group.command("create")
@click.argument("user")
@click.option("--label", default="", help="What the token is for (shown in listings).")
@click.pass_obj
def create_command(ctx: CliContext, user: str, label: str) -> None:
    """Create an API token acting as USER; prints it once, on stdout.

    TOKEN=$(dagwell tokens create ci --label nightly) keeps it in a variable.
    """
    from dagwell.tracking.accounts import create_token

    with _audited(ctx, "create_token", user, {"label": label}) as facts:
        info, secret = create_token(user, label, settings=ctx.settings)
        facts["token_id"] = info.id
    click.echo(secret)
    click.echo(
        f"API token {info.id} for {info.user}: copy it now, it will not be shown again "
        f"(revoke it with: dagwell tokens revoke {info.id})",
        err=True,
    )


@tokens_group.command("list")
@click.option("--user", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_tokens_command(ctx: CliContext, user: str | None, as_json: bool) -> None:
    """List API tokens (never their secrets), revoked ones included."""
    from dagwell.tracking.accounts import list_tokens

    found = list_tokens(user, settings=ctx.settings)
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in found], indent=2))
        return
    if not found:
        ctx.console.print("no API tokens; create one with: dagwell tokens create USER")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "user", "label", "created", "last used", "status"):
        table.add_column(column, overflow="fold")
    for t in found:
        table.add_row(
            t.id,
            Text(t.user),
            Text(t.label or "-"),
            _when(t.created_at),
            _when(t.last_used_at),
            _status(t),
        )
    ctx.console.print(table)


def _status(token: TokenInfo) -> Text:
    if token.revoked_at is None:
        return Text("active", style="green")
    return Text(f"revoked {_when(token.revoked_at)}", style="red")


@tokens_group.command("revoke")
@click.argument("token_id", metavar="ID")
@click.pass_obj
def revoke_command(ctx: CliContext, token_id: str) -> None:
    """Revoke API token ID: it stops working at once."""
    from dagwell.tracking.accounts import revoke_token

    with _audited(ctx, "revoke_token", token_id) as facts:
        info = revoke_token(token_id, settings=ctx.settings)
        facts["user"] = info.user
    ctx.console.print(f"revoked API token {info.id} of {info.user}", highlight=False, markup=False)


# -- dagwell audit -----------------------------------------------------------------------------


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    return parse_moment(value, "--since")


_OUTCOME_STYLE = {"ok": "green", "denied": "yellow", "failed": "red"}

WIDE = 120
"""Terminals at least this wide get a table; narrower ones two lines per entry."""


@click.command("audit")
@click.option("--actor", help="Only what this user (or cli:NAME) did.")
@click.option("--action", help="Only this action: login, trigger, cancel, add_user ...")
@click.option(
    "--since",
    callback=_since,
    metavar="WHEN",
    help="Only entries at or after: a date, date-time, or 7d / 12h.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def audit_command(
    ctx: CliContext,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log, newest first: who did what, when, from where, and how it went."""
    from dagwell.tracking.audit import list_audit

    found = list_audit(actor=actor, action=action, since=since, limit=limit, settings=ctx.settings)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in found], indent=2))
        return
    if not found:
        ctx.console.print("no audit entries match", markup=False)
        return
    if ctx.console.width < WIDE:
        for e in found:
            ctx.console.print(
                Text.assemble(
                    _when(e.at),
                    "  ",
                    (e.actor, "bold"),
                    f"  {e.action} {e.target or '-'}  ",
                    _outcome(e),
                    f"  ({e.source})",
                )
            )
            if e.detail:
                ctx.console.print(Text(f"  {_detail(e)}"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("time", "actor", "action", "target", "outcome", "source"):
        table.add_column(column, overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1)
    for e in found:
        table.add_row(
            _when(e.at),
            Text(e.actor),
            Text(e.action),
            Text(e.target or "-"),
            _outcome(e),
            Text(e.source),
            Text(_detail(e)),
        )
    ctx.console.print(table)


def _outcome(entry: AuditEntry) -> Text:
    return Text(entry.outcome, style=_OUTCOME_STYLE.get(entry.outcome, ""))


def _detail(entry: AuditEntry) -> str:
    return json.dumps(dict(entry.detail), sort_keys=True) if entry.detail else ""


COMMANDS = [users_group, tokens_group, audit_command]
