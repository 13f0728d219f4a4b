"""Install secrets: random values made once per metadata database, such as the session key.

Every web server on one database must sign and check session cookies with the same key, so
the key lives in the database, made by whichever server asks first. Two servers starting at
once both insert-if-missing, and both read back the one row that won.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from dagwell.storage.metadata.tables import install_secrets
from dagwell.storage.metadata.upsert import insert_missing


def get_secret(conn: Connection, name: str) -> str | None:
    """The secret called ``name``, or None when none was made yet."""
    value = conn.scalar(select(install_secrets.c.value).where(install_secrets.c.name == name))
    return str(value) if value is not None else None


def get_or_create_secret(tx: Connection, name: str, candidate: str, at: datetime) -> str:
    """The secret called ``name``; ``candidate`` becomes it when there is none yet.

    On PostgreSQL a second writer waits for the first one's insert to commit, inserts
    nothing, then reads the first one's value (each statement sees what committed before it).

    >>> get_or_create_secret(tx, "session", secrets.token_urlsafe(64), now)
    'kq3V...'
    """
    row = {"name": name, "value": candidate, "created_at": at}
    insert_missing(tx, install_secrets, ["name"], [row])
    value = get_secret(tx, name)
    assert value is not None, "the row was just inserted, or was there already"
    return value
