"""The admins' pages: the audit log (``/audit``), and the users with their API tokens
(``/users``) with the forms that change them.

Every change goes through :mod:`~dagwell.interfaces.web.account_actions`, so it is
audited as the API's are, with source ``ui``; a change that is refused (a bad name, a
short password, the last admin) shows the page again with the message (422). A new
token's secret is shown once, on the answer to the form, and never again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dagwell.core.roles import Role
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.interfaces.web import account_actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, render
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings

router = APIRouter(include_in_schema=False)

AUDIT_SHOWN = 200
"""The most audit entries the audit page lists."""

RUN_ACTIONS = frozenset({"resume", "cancel"})
"""Actions whose audit target is a run id (the page links it to the run)."""

KNOWN_ACTIONS = (
    "login",
    "trigger",
    "resume",
    "cancel",
    "set_alias",
    "add_user",
    "remove_user",
    "set_role",
    "set_password",
    "create_token",
    "revoke_token",
)
"""Actions the log records, offered in the audit page's action filter."""


# -- the audit log ----------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view_audit"))],
    actor: str = "",
    action: str = "",
    since: str = "",
) -> HTMLResponse:
    """The newest audit entries first, by actor, action and time (``since`` as
    ``dagwell audit --since`` takes it: a date, a date and time, or ``7d``)."""
    from dagwell.core.moments import parse_moment
    from dagwell.tracking.audit import list_audit

    error = None
    entries: list[Any] = []
    try:
        moment = parse_moment(since, now=datetime.now(timezone.utc)) if since.strip() else None
        entries = list_audit(
            actor=actor.strip() or None,
            action=action.strip() or None,
            since=moment,
            limit=AUDIT_SHOWN,
            settings=settings,
        )
    except DefinitionError as exc:
        error = f"since: {exc}"
    context = {
        "section": "audit",
        "who": acting(request, who),
        "entries": entries,
        "filters": {"actor": actor, "action": action, "since": since},
        "actions": KNOWN_ACTIONS,
        "run_actions": RUN_ACTIONS,
        "shown": AUDIT_SHOWN,
        "error": error,
    }
    return render(request, "audit.html", context, status=422 if error else 200)


# -- users and tokens -------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> HTMLResponse:
    """The users with their roles, the API tokens, and the forms that change them."""
    return _users(request, settings, acting(request, who))


@router.post("/users", response_class=HTMLResponse)
async def add_user(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> Response:
    """Add the user the form names (``name``, ``role``, optional ``password``)."""
    form = await _form(request)
    password = form.get("password") or None  # left empty: API tokens only
    typed = {"name": form.get("name", ""), "role": form.get("role", "")}
    return await _change(
        request,
        settings,
        who,
        account_actions.add_user,
        typed["name"],
        typed["role"],
        password,
        typed=typed,
    )


@router.post("/users/{name}/role", response_class=HTMLResponse)
async def set_role(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> Response:
    """Give user ``name`` the form's ``role``."""
    form = await _form(request)
    return await _change(
        request, settings, who, account_actions.set_role, name, form.get("role", "")
    )


@router.post("/users/{name}/remove", response_class=HTMLResponse)
async def remove_user(
    name: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> Response:
    """Remove user ``name`` and their API tokens (the page asks to confirm first)."""
    return await _change(request, settings, who, account_actions.remove_user, name)


@router.post("/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> Response:
    """Make an API token for the form's ``user`` (with its ``label``) and show its secret,
    this once (201, never cached)."""
    form = await _form(request)
    principal = acting(request, who)
    user, label = form.get("user", ""), form.get("label", "")
    try:
        info, secret = await run_in_threadpool(
            account_actions.create_token, principal, user, label, settings, source="ui"
        )
    except (DefinitionError, NotFoundError) as exc:
        return _users(request, settings, principal, error=exc, typed={"user": user, "label": label})
    context = {"section": "users", "who": principal, "token": info, "secret": secret}
    # The secret must not sit in a shared cache or the browser's.
    return render(
        request, "token_created.html", context, status=201, headers={"Cache-Control": "no-store"}
    )


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(
    token_id: str,
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> Response:
    """Revoke API token ``token_id``: it stops working at once."""
    return await _change(request, settings, who, account_actions.revoke_token, token_id)


async def _form(request: Request) -> dict[str, str]:
    """The submitted form's text fields, trimmed (passwords as typed)."""
    form = await request.form()
    return {
        key: value if key == "password" else value.strip()
        for key, value in form.items()
        if isinstance(value, str)
    }


async def _change(
    request: Request,
    settings: Settings,
    who: Principal,
    change: Callable[..., object],
    *args: Any,
    typed: Mapping[str, str] | None = None,
) -> Response:
    """Make ``change(principal, *args, settings, source="ui")``, then show the users page
    again (303); the page with the error when the change is refused."""
    principal = acting(request, who)
    try:
        await run_in_threadpool(change, principal, *args, settings, source="ui")
    except (DefinitionError, NotFoundError) as exc:
        return _users(request, settings, principal, error=exc, typed=typed)
    return RedirectResponse("/users", status_code=303)


def _users(
    request: Request,
    settings: Settings,
    who: Principal,
    *,
    error: Exception | None = None,
    typed: Mapping[str, str] | None = None,
) -> HTMLResponse:
    from dagwell.tracking import accounts

    users = accounts.list_users(settings=settings)
    tokens = accounts.list_tokens(settings=settings)
    context = {
        "section": "users",
        "who": who,
        "users": users,
        "tokens": list(reversed(tokens)),  # newest first
        "roles": [role.value for role in Role],
        "error": str(error) if error is not None else None,
        "typed": dict(typed or {}),
    }
    status = 404 if isinstance(error, NotFoundError) else 422 if error is not None else 200
    return render(request, "users.html", context, status=status)
