"""The JSON API's answers about accounts: who is asking (``/me``), users, API tokens, and the
audit log, with the bodies that change them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MeOut(BaseModel):
    """``GET /api/v1/me``: who is asking, and what they may do (pages hide the rest)."""

    name: str
    role: str | None
    anonymous: bool
    via: str = Field(description="'session', 'token', or 'open' (no users: everyone admin)")
    open: bool
    actions: list[str] = Field(description="the actions this role may take, sorted")


class UserOut(BaseModel):
    name: str
    role: str
    has_password: bool
    created_at: str
    updated_at: str


class UserIn(BaseModel):
    """The body of ``POST /users``; without a password the user signs in with tokens only."""

    name: str
    role: str = Field(description="viewer, operator or admin")
    password: str | None = Field(default=None, description="at least 8 characters")


class RoleIn(BaseModel):
    """The body of ``PUT /users/{name}/role``."""

    role: str = Field(description="viewer, operator or admin")


class UserRemovedOut(BaseModel):
    name: str
    tokens_revoked: int


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    revoked: bool


class TokenIn(BaseModel):
    """The body of ``POST /tokens``: whose token (they act with that user's role)."""

    user: str
    label: str = ""


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the secret, shown this once: 'Authorization: Bearer ...'")


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str = Field(description="ok, denied or failed")
    source: str = Field(description="ui, api or cli")
    detail: dict[str, Any]
