"""The account changes both the JSON API and the admin pages make: add, remove and re-role
a user, create and revoke an API token. Each calls one :mod:`dagwell.tracking.accounts`
function inside :func:`~dagwell.interfaces.web.audit.audited`, so a change is recorded the
same way whichever interface was asked; token secrets and passwords never are.

``source`` is what the audit log records (``ui`` or ``api``); by default, how the
principal signed in says which. The functions block: an ``async`` page calls them through
``run_in_threadpool``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagwell.interfaces.web.access import Principal
from dagwell.interfaces.web.audit import audited
from dagwell.settings import Settings

if TYPE_CHECKING:
    from dagwell.tracking.accounts import TokenInfo, User


def add_user(
    who: Principal,
    name: str,
    role: str,
    password: str | None,
    settings: Settings,
    *,
    source: str | None = None,
) -> User:
    """Add user ``name`` with ``role`` (and ``password``, if given); return them.

    >>> add_user(who, "grace", "operator", "s3cret-enough", settings).role
    <Role.OPERATOR: 'operator'>
    """
    from dagwell.tracking import accounts

    with audited(who, "add_user", name, settings, source=source) as detail:
        detail["role"] = role
        detail["password"] = password is not None
        return accounts.add_user(name, role, password, settings=settings)


def remove_user(who: Principal, name: str, settings: Settings, *, source: str | None = None) -> int:
    """Remove user ``name`` and their API tokens; return how many tokens went with them.

    >>> remove_user(who, "grace", settings)
    1
    """
    from dagwell.tracking import accounts

    with audited(who, "remove_user", name, settings, source=source) as detail:
        tokens = accounts.remove_user(name, settings=settings)
        detail["tokens_revoked"] = tokens
    return tokens


def set_role(
    who: Principal, name: str, role: str, settings: Settings, *, source: str | None = None
) -> User:
    """Give user ``name`` the role ``role``, from their next request on; return them.

    >>> set_role(who, "grace", "admin", settings).role
    <Role.ADMIN: 'admin'>
    """
    from dagwell.tracking import accounts

    with audited(who, "set_role", name, settings, source=source) as detail:
        detail["role"] = role
        return accounts.set_role(name, role, settings=settings)


def create_token(
    who: Principal, user: str, label: str, settings: Settings, *, source: str | None = None
) -> tuple[TokenInfo, str]:
    """Make an API token acting as ``user``; return its info and the secret (shown once).

    >>> info, secret = create_token(who, "ci", "nightly job", settings)
    """
    from dagwell.tracking import accounts

    with audited(who, "create_token", user, settings, source=source) as detail:
        info, secret = accounts.create_token(user, label, settings=settings)
        detail["token_id"] = info.id
    return info, secret


def revoke_token(
    who: Principal, token_id: str, settings: Settings, *, source: str | None = None
) -> TokenInfo:
    """Revoke API token ``token_id`` for good; return it.

    >>> revoke_token(who, "4f1c9a2e07b3", settings).revoked
    True
    """
    from dagwell.tracking import accounts

    with audited(who, "revoke_token", token_id, settings, source=source) as detail:
        info = accounts.revoke_token(token_id, settings=settings)
        detail["user"] = info.user
    return info
