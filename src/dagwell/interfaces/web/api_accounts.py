"""``/api/v1/me``, ``/users``, ``/tokens`` and ``/audit``: who is asking, and the accounts
and audit log admins manage from the web UI or a script.

``GET /me`` is for anyone signed in (pages use it to hide what a role may not do). The
rest needs ``manage_users`` (users and tokens) or ``view_audit`` (the log): admins. Every
change is written to the audit log, as ``dagwell users`` and ``dagwell tokens`` write
theirs; token secrets and passwords never are.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from dagwell.core.roles import Action, allows
from dagwell.interfaces.web import account_actions
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.schemas import (
    AuditEntryOut,
    MeOut,
    RoleIn,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserRemovedOut,
)
from dagwell.interfaces.web.state import SettingsDep, web_state

router = APIRouter(tags=["accounts"])

MAX_AUDIT = 1000
"""The most audit entries one ``GET /audit`` answers."""


@router.get("/me", response_model=MeOut)
def me(request: Request, who: Annotated[Principal, Depends(require("view"))]) -> dict[str, Any]:
    """Who is asking, their role and the actions it allows."""
    role = who.role
    return {
        "name": who.name,
        "role": str(role) if role is not None else None,
        "anonymous": who.anonymous,
        "via": who.via,
        "open": web_state(request).open_mode,
        "actions": sorted(a.value for a in Action if role is not None and allows(role, a)),
    }


# -- users ------------------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut])
def list_users(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> list[dict[str, Any]]:
    """Every user, by name, with their role and whether they have a password."""
    from dagwell.tracking import accounts

    return [u.to_dict() for u in accounts.list_users(settings=settings)]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(
    body: UserIn,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> dict[str, Any]:
    """Add a user; 422 for a bad name, role or password, or a name already taken."""
    user = account_actions.add_user(who, body.name, body.role, body.password, settings)
    return user.to_dict()


@router.delete("/users/{name}", response_model=UserRemovedOut)
def remove_user(
    name: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> dict[str, Any]:
    """Remove a user and their API tokens; they are signed out at their next request.
    404 for an unknown user, 422 for the last admin."""
    tokens = account_actions.remove_user(who, name, settings)
    return {"name": name, "tokens_revoked": tokens}


@router.put("/users/{name}/role", response_model=UserOut)
def set_role(
    name: str,
    body: RoleIn,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> dict[str, Any]:
    """Give a user another role, from their next request on; 422 for the last admin."""
    return account_actions.set_role(who, name, body.role, settings).to_dict()


# -- API tokens -------------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
    user: str | None = None,
) -> list[dict[str, Any]]:
    """Every API token (of ``user``, if given), revoked ones included; never the secrets."""
    from dagwell.tracking import accounts

    return [t.to_dict() for t in accounts.list_tokens(user, settings=settings)]


@router.post("/tokens", response_model=TokenCreatedOut, status_code=201)
def create_token(
    body: TokenIn,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> JSONResponse:
    """Make an API token acting as ``user``; the answer holds its secret, shown this once."""
    info, secret = account_actions.create_token(who, body.user, body.label, settings)
    # The secret must not sit in a shared cache or the browser's.
    return JSONResponse(
        {**info.to_dict(), "token": secret}, status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    token_id: str,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("manage_users"))],
) -> dict[str, Any]:
    """Revoke an API token for good (it stops working at once); 404 for an unknown id."""
    return account_actions.revoke_token(who, token_id, settings).to_dict()


# -- the audit log ----------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditEntryOut])
def audit_log(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view_audit"))],
    actor: str | None = None,
    action: Annotated[str | None, Query(description="login, trigger, add_user, …")] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO; UTC if naive)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT)] = 50,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered by actor, action and time."""
    from dagwell.tracking.audit import list_audit

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    found = list_audit(actor=actor, action=action, since=since, limit=limit, settings=settings)
    return [e.to_dict() for e in found]
