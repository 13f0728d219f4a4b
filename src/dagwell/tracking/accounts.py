"""Accounts of the web UI and API: users with roles, their passwords and API tokens, and the
per-install secret that signs session cookies.

The web app and ``dagwell users`` / ``dagwell tokens`` both call these functions; what
each role may do is in ``core/roles.py``, and who did what is written with
``tracking/audit.py``. Passwords are hashed with argon2 (the ``ui`` extra), imported when
first needed; an API token is shown once and only its SHA-256 is stored. Every function
takes optional :class:`~dagwell.settings.Settings`, read from the environment when left out.

>>> add_user("ada", "admin", password="correct horse")
>>> authenticate_password("ada", "correct horse").role
<Role.ADMIN: 'admin'>
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from dagwell.core.roles import Role
from dagwell.errors import DagwellError, DefinitionError, NotFoundError
from dagwell.settings import Settings
from dagwell.storage.metadata import accounts as queries

# Re-exported: the web app and the CLI take them from here.
from dagwell.storage.metadata.accounts import TokenInfo as TokenInfo
from dagwell.storage.metadata.accounts import User as User
from dagwell.storage.metadata.install_secrets import get_or_create_secret, get_secret
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    from argon2 import PasswordHasher
    from sqlalchemy import Connection

    from dagwell.storage.metadata.store import MetadataStore


MIN_PASSWORD_LENGTH = 8
"""The shortest password accepted."""

TOKEN_PREFIX = "dwt_"
"""How every API token starts, so a leaked one is easy to recognise (and to scan for)."""

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_MAX_LABEL = 200
# Noting each use of a token is a write; scripts calling the API in a loop need one a minute.
_TOUCH_EVERY = timedelta(seconds=60)


# -- users -------------------------------------------------------------------------------------


def add_user(
    name: str,
    role: Role | str,
    password: str | None = None,
    *,
    settings: Settings | None = None,
) -> User:
    """Add user ``name`` with ``role``; without a password they sign in with API tokens only.

    Raises :class:`DefinitionError` for a bad name, an unknown role, a password shorter
    than :data:`MIN_PASSWORD_LENGTH` or a name already taken.

    >>> add_user("grace", "operator", password="s3cret-enough")
    User(name='grace', role=<Role.OPERATOR: 'operator'>, has_password=True, ...)
    """
    _check_name(name)
    parsed = Role.parse(role)
    password_hash = _hash(password) if password is not None else None
    store = _store(settings)
    at = _now()
    with store.transaction() as tx:
        if not queries.add_user(tx, name, parsed, password_hash, at):
            raise DefinitionError(
                f"user {name!r} already exists; change it with: dagwell users set-role "
                f"{name} ROLE, or dagwell users set-password {name}"
            )
        return _existing(tx, name)


def get_user(name: str, *, settings: Settings | None = None) -> User:
    """User ``name`` as stored now; :class:`NotFoundError` when there is none.

    The web app reads the user on each request, so a changed role or a removed user
    takes effect at once.

    >>> get_user("ada").role
    <Role.ADMIN: 'admin'>
    """
    with _store(settings).reading() as conn:
        return _existing(conn, name)


def user_and_stamp(name: str, *, settings: Settings | None = None) -> tuple[User, str] | None:
    """User ``name`` with the stamp of their current password (see :func:`password_stamp`),
    or None when there is no such user. The web app checks a session's stamp against it on
    every request, so a changed or removed password signs that user's browsers out.

    >>> user, stamp = user_and_stamp("ada")
    """
    with _store(settings).reading() as conn:
        found = queries.user_and_hash(conn, name)
    if found is None:
        return None
    user, stored = found
    return user, password_stamp(stored)


def password_stamp(password_hash: str | None) -> str:
    """A short fingerprint of a stored password hash, kept in session cookies: it changes
    whenever the password does (and when a sign-in rehashes it with newer parameters). It
    cannot be used to test guesses at the password without the hash's salt, which stays in
    the database.

    >>> password_stamp(None) == password_stamp(None) != password_stamp("$argon2id$...")
    True
    """
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def list_users(*, settings: Settings | None = None) -> list[User]:
    """Every user, by name.

    >>> [(u.name, str(u.role)) for u in list_users()]
    [('ada', 'admin'), ('grace', 'operator')]
    """
    with _store(settings).reading() as conn:
        return queries.list_users(conn)


def count_users(*, settings: Settings | None = None) -> int:
    """How many users there are (0: nobody can sign in yet).

    >>> count_users()
    2
    """
    with _store(settings).reading() as conn:
        return queries.count_users(conn)


def remove_user(name: str, *, settings: Settings | None = None) -> int:
    """Remove user ``name`` and their API tokens; returns how many tokens went with them.

    The last admin cannot be removed (nobody could manage users from the web UI then):
    make another user admin first. Raises :class:`NotFoundError` for an unknown user.

    >>> remove_user("grace")
    1
    """
    store = _store(settings)
    with store.transaction() as tx:
        _check_not_last_admin(tx, _existing(tx, name), "remove")
        tokens = queries.delete_user(tx, name)
        if tokens is None:  # pragma: no cover - the row was just read in this transaction
            raise NotFoundError(_no_user(name))
        return tokens


def set_role(name: str, role: Role | str, *, settings: Settings | None = None) -> User:
    """Give user ``name`` the role ``role``; it applies to their next request.

    The last admin cannot be given a lower role.

    >>> set_role("grace", "admin").role
    <Role.ADMIN: 'admin'>
    """
    parsed = Role.parse(role)
    store = _store(settings)
    with store.transaction() as tx:
        user = _existing(tx, name)
        if parsed is not Role.ADMIN:
            _check_not_last_admin(tx, user, f"make {parsed.value}")
        queries.set_role(tx, name, parsed, _now())
        return _existing(tx, name)


def set_password(name: str, password: str | None, *, settings: Settings | None = None) -> User:
    """Set user ``name``'s password; ``None`` removes it (API tokens only from then on).

    >>> set_password("grace", "a-new-passphrase").has_password
    True
    """
    password_hash = _hash(password) if password is not None else None
    store = _store(settings)
    with store.transaction() as tx:
        if not queries.set_password_hash(tx, name, password_hash, _now()):
            raise NotFoundError(_no_user(name))
        return _existing(tx, name)


def authenticate_password(
    name: str, password: str, *, settings: Settings | None = None
) -> User | None:
    """The user ``name`` when ``password`` is theirs; None for anything else.

    An unknown user, or one without a password, costs the same time as a wrong password
    (a dummy hash is checked), so timing does not tell which names exist. A hash made
    with older argon2 parameters is replaced by one with the current parameters.

    >>> authenticate_password("ada", "wrong") is None
    True
    """
    signed_in = sign_in(name, password, settings=settings)
    return signed_in[0] if signed_in is not None else None


def sign_in(
    name: str, password: str, *, settings: Settings | None = None
) -> tuple[User, str] | None:
    """Like :func:`authenticate_password`, with the :func:`password_stamp` of the very hash
    that was checked (or of its replacement, when rehashed): a password changed meanwhile
    then ends the session that this sign-in starts, at its first request.

    >>> user, stamp = sign_in("ada", "correct horse")
    """
    hasher = _hasher()
    with _store(settings).reading() as conn:
        found = queries.user_and_hash(conn, name) if isinstance(name, str) else None
    user, stored = found if found is not None else (None, None)
    if user is None or stored is None or not isinstance(password, str):
        _verify(hasher, _dummy_hash(), password if isinstance(password, str) else "")
        return None
    if not _verify(hasher, stored, password):
        return None
    if hasher.check_needs_rehash(stored):
        rehashed = hasher.hash(password)
        with _store(settings).transaction() as tx:
            if queries.replace_password_hash(tx, name, stored, rehashed):
                stored = rehashed
    return user, password_stamp(stored)


# -- API tokens --------------------------------------------------------------------------------


def create_token(
    user: str, label: str = "", *, settings: Settings | None = None
) -> tuple[TokenInfo, str]:
    """Make an API token acting as ``user``; returns its info and the secret.

    The secret (``dwt_`` and 43 random characters) is returned only here: only its
    SHA-256 is stored, so it cannot be shown again. Send it as
    ``Authorization: Bearer <secret>``.

    >>> info, secret = create_token("ci", label="nightly job")
    >>> info.id, secret[:4]
    ('4f1c9a2e07b3', 'dwt_')
    """
    if not isinstance(label, str) or len(label.strip()) > _MAX_LABEL:
        raise DefinitionError(f"a token label is text of at most {_MAX_LABEL} characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store = _store(settings)
    with store.transaction() as tx:
        _existing(tx, user)
        info = queries.add_token(
            tx, secrets.token_hex(6), user, label.strip(), _digest(secret), _now()
        )
    return info, secret


def list_tokens(user: str | None = None, *, settings: Settings | None = None) -> list[TokenInfo]:
    """Every API token (of ``user``, if given), revoked ones included, oldest first.

    >>> [(t.id, t.label, t.revoked) for t in list_tokens("ci")]
    [('4f1c9a2e07b3', 'nightly job', False)]
    """
    with _store(settings).reading() as conn:
        if user is not None:
            _existing(conn, user)
        return queries.list_tokens(conn, user)


def revoke_token(token_id: str, *, settings: Settings | None = None) -> TokenInfo:
    """Revoke API token ``token_id`` for good; revoking it again changes nothing.

    >>> revoke_token("4f1c9a2e07b3").revoked
    True
    """
    with _store(settings).transaction() as tx:
        info = queries.revoke_token(tx, token_id, _now())
    if info is None:
        raise NotFoundError(
            f"no API token with id {token_id!r}; see the tokens with: dagwell tokens list"
        )
    return info


def authenticate_token(secret: str, *, settings: Settings | None = None) -> User | None:
    """The user an API token acts as; None for an unknown or revoked token.

    Notes when the token was used (at most once a minute per token).

    >>> authenticate_token(request.headers["Authorization"].removeprefix("Bearer "))
    User(name='ci', role=<Role.OPERATOR: 'operator'>, ...)
    """
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX):
        return None
    if not secret.isascii():
        return None
    store = _store(settings)
    with store.reading() as conn:
        found = queries.find_token(conn, _digest(secret))
    if found is None or found[0].revoked:
        return None
    token, user = found
    at = _now()
    if token.last_used_at is None or at - token.last_used_at >= _TOUCH_EVERY:
        with store.transaction() as tx:
            queries.touch_token(tx, token.id, at)
    return user


# -- install secrets ---------------------------------------------------------------------------


def install_secret(name: str = "session", *, settings: Settings | None = None) -> str:
    """The random secret ``name`` of this install, made on first use and kept in the database.

    Every web server using the same metadata database gets the same value, even two
    starting at once, so a session cookie signed by one is accepted by the others.

    >>> key = install_secret("session")  # 86 URL-safe characters, the same on every call
    """
    if not isinstance(name, str) or not name:
        raise DefinitionError("an install secret needs a name, such as 'session'")
    store = _store(settings)
    with store.reading() as conn:
        value = get_secret(conn, name)
    if value is not None:
        return value
    with store.transaction() as tx:
        return get_or_create_secret(tx, name, secrets.token_urlsafe(64), _now())


# -- helpers -----------------------------------------------------------------------------------


def _store(settings: Settings | None) -> MetadataStore:
    return metadata_store((settings or Settings.from_env()).db_url)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(
            f"a user name is 1 to 64 letters, digits, '.', '_', '-' or '@'; got {name!r}"
        )


def _no_user(name: str) -> str:
    return f"no user named {name!r}; see the users with: dagwell users list"


def _existing(conn: Connection, name: str) -> User:
    user = queries.get_user(conn, name)
    if user is None:
        raise NotFoundError(_no_user(name))
    return user


def _check_not_last_admin(tx: Connection, user: User, change: str) -> None:
    if user.role is not Role.ADMIN:
        return
    admins = queries.lock_admins(tx)
    if admins == [user.name]:
        raise DefinitionError(
            f"cannot {change} {user.name!r}: they are the last admin, and nobody could "
            f"manage users from the web UI; make another user admin first "
            f"(dagwell users set-role NAME admin)"
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _hash(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise DefinitionError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters long")
    return _hasher().hash(password)


def _hasher() -> PasswordHasher:
    return _argon2()[0]


def _dummy_hash() -> str:
    return _argon2()[1]


@lru_cache(maxsize=1)
def _argon2() -> tuple[PasswordHasher, str]:
    """The hasher, and a hash of a random password to check for unknown users.

    The dummy is made with the hasher, on the first call of any kind, so the first sign-in
    of an unknown user costs no more than that of a known one.
    """
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise DagwellError(
            "passwords need argon2-cffi, which comes with the web UI: pip install 'dagwell[ui]'"
        ) from None
    hasher = PasswordHasher()
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
