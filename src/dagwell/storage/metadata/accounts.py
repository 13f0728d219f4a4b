"""Account queries: user rows (name, role, password hash) and API-token rows.

Functions take an open connection: a transaction from
:meth:`~dagwell.storage.metadata.store.MetadataStore.transaction` to write, one from
:meth:`~dagwell.storage.metadata.store.MetadataStore.reading` to read. Hashing passwords and
tokens happens above, in ``tracking/accounts.py``: only hashes come down here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from dagwell.core.moments import iso
from dagwell.core.roles import Role
from dagwell.storage.metadata.tables import api_tokens, users
from dagwell.storage.metadata.upsert import insert_new


@dataclass(frozen=True)
class User:
    """A person or script that may use the web UI and API, with one role.

    ``has_password`` is False for a user who signs in with API tokens only.

    >>> [(u.name, u.role) for u in dw_accounts.list_users()]
    [('ada', <Role.ADMIN: 'admin'>)]
    """

    name: str
    role: Role
    has_password: bool
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``dagwell users list --json``, the web API); never the hash."""
        return {
            "name": self.name,
            "role": self.role.value,
            "has_password": self.has_password,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listings show it: its public id, owner and use; never the secret.

    >>> [(t.id, t.user, t.revoked) for t in dw_accounts.list_tokens("ci")]
    [('4f1c9a2e', 'ci', False)]
    """

    id: str
    user: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        """True once the token was revoked: it no longer signs anyone in."""
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``dagwell tokens list --json``, the web API)."""
        return {
            "id": self.id,
            "user": self.user,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
            "revoked": self.revoked,
        }


# -- users -------------------------------------------------------------------------------------


def add_user(
    tx: Connection, name: str, role: Role, password_hash: str | None, at: datetime
) -> bool:
    """Add user ``name``; False (and no change) when that name is taken.

    >>> add_user(tx, "ada", Role.ADMIN, hasher.hash("correct horse"), now)
    True
    """
    row = {
        "name": name,
        "role": role.value,
        "password_hash": password_hash,
        "created_at": at,
        "updated_at": at,
    }
    return insert_new(tx, users, ["name"], row)


def get_user(conn: Connection, name: str) -> User | None:
    """User ``name``, or None."""
    found = user_and_hash(conn, name)
    return found[0] if found else None


def user_and_hash(conn: Connection, name: str) -> tuple[User, str | None] | None:
    """User ``name`` and their password hash (None: tokens only), or None for no such user."""
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return (_user(row), row.password_hash) if row is not None else None


def list_users(conn: Connection) -> list[User]:
    """Every user, by name."""
    return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]


def count_users(conn: Connection) -> int:
    """How many users there are."""
    return int(conn.scalar(select(func.count()).select_from(users)) or 0)


def lock_admins(tx: Connection) -> list[str]:
    """The names of the admins, by name, locked until ``tx`` ends (PostgreSQL).

    Two transactions each removing a different admin then take turns, so they cannot
    both see the other admin and leave none. SQLite's ``BEGIN IMMEDIATE`` serializes
    writers already.
    """
    query = (
        select(users.c.name)
        .where(users.c.role == Role.ADMIN.value)
        .order_by(users.c.name)
        .with_for_update()
    )
    return list(tx.scalars(query))


def set_role(tx: Connection, name: str, role: Role, at: datetime) -> bool:
    """Give user ``name`` the role ``role``; False when there is no such user."""
    change = update(users).where(users.c.name == name).values(role=role.value, updated_at=at)
    return bool(tx.execute(change).rowcount)


def set_password_hash(tx: Connection, name: str, password_hash: str | None, at: datetime) -> bool:
    """Replace user ``name``'s password hash (None: tokens only); False for no such user."""
    change = (
        update(users).where(users.c.name == name).values(password_hash=password_hash, updated_at=at)
    )
    return bool(tx.execute(change).rowcount)


def replace_password_hash(tx: Connection, name: str, old_hash: str, new_hash: str) -> bool:
    """Swap ``old_hash`` for ``new_hash`` (the same password, hashed with newer parameters).

    Nothing changes when the hash is no longer ``old_hash``: a password set meanwhile wins.
    """
    change = (
        update(users)
        .where(users.c.name == name, users.c.password_hash == old_hash)
        .values(password_hash=new_hash)
    )
    return bool(tx.execute(change).rowcount)


def delete_user(tx: Connection, name: str) -> int | None:
    """Delete user ``name`` and their API tokens; how many tokens went, None for no such user.

    The tokens are deleted here rather than left to the foreign key's ``ON DELETE CASCADE``,
    so they go even on a database that does not enforce foreign keys.
    """
    tokens = tx.execute(delete(api_tokens).where(api_tokens.c.user_name == name)).rowcount
    if not tx.execute(delete(users).where(users.c.name == name)).rowcount:
        return None
    return int(tokens)


# -- API tokens --------------------------------------------------------------------------------


def add_token(
    tx: Connection, token_id: str, user: str, label: str, token_hash: str, at: datetime
) -> TokenInfo:
    """Record a new token of ``user`` by the hash of its secret.

    >>> add_token(tx, "4f1c9a2e", "ci", "nightly job", sha256_hex, now)
    TokenInfo(id='4f1c9a2e', user='ci', label='nightly job', ...)
    """
    tx.execute(
        insert(api_tokens).values(
            id=token_id, user_name=user, label=label, token_hash=token_hash, created_at=at
        )
    )
    return TokenInfo(token_id, user, label, at)


def find_token(conn: Connection, token_hash: str) -> tuple[TokenInfo, User] | None:
    """The token whose secret hashes to ``token_hash``, and its user; revoked ones too."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).first()
    if row is None:
        return None
    user = get_user(conn, row.user_name)
    return (_token(row), user) if user is not None else None


def get_token(conn: Connection, token_id: str) -> TokenInfo | None:
    """Token ``token_id``, or None."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    return _token(row) if row is not None else None


def list_tokens(conn: Connection, user: str | None = None) -> list[TokenInfo]:
    """Every token (of ``user``, if given), revoked ones included, oldest first."""
    query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
    if user is not None:
        query = query.where(api_tokens.c.user_name == user)
    return [_token(row) for row in conn.execute(query)]


def touch_token(tx: Connection, token_id: str, at: datetime) -> None:
    """Note that token ``token_id`` was used at ``at``."""
    tx.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=at))


def revoke_token(tx: Connection, token_id: str, at: datetime) -> TokenInfo | None:
    """Revoke token ``token_id`` at ``at`` (an already revoked one keeps its first time).

    Returns the token as it now is, or None when there is no such token.
    """
    tx.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return get_token(tx, token_id)


def _user(row: Row[Any]) -> User:
    return User(
        name=row.name,
        role=Role(row.role),
        has_password=row.password_hash is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _token(row: Row[Any]) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=row.user_name,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
