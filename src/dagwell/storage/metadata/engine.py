"""The one place a metadata-database engine is made: SQLite pragmas and transactions, or a URL.

SQLite needs per-connection settings (WAL, busy timeout, foreign keys) and a fix for the
``sqlite3`` driver, which starts transactions late and as DEFERRED: a deferred transaction that
reads and then writes fails with SQLITE_BUSY when another writer got there first, and the busy
timeout cannot help it. So SQLAlchemy emits the BEGIN itself, IMMEDIATE by default (the write
lock is taken up front and waited for), and DEFERRED for connections made through
:func:`for_reads`. Other databases (PostgreSQL) get a plain engine that gives up connecting
after :data:`CONNECT_TIMEOUT_SECONDS`. Every engine writes and reads JSON columns with
``json_values.py``, so NaN and infinities are stored alike on every backend.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from dagwell.storage.metadata.json_values import dumps, loads

BEGIN_OPTION = "dagwell_sqlite_begin"
"""Execution option naming how a SQLite transaction begins: IMMEDIATE (default) or DEFERRED."""

_BEGIN_STATEMENTS = {
    "IMMEDIATE": "BEGIN IMMEDIATE",
    "DEFERRED": "BEGIN DEFERRED",
    "EXCLUSIVE": "BEGIN EXCLUSIVE",
}

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite connection waits for another one's lock before failing."""

_BUSY_TIMEOUT_PRAGMA = f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}"
_SQLITE_PRAGMAS = ("PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON")


def make_engine(url: str | URL) -> Engine:
    """Create the engine for the metadata database at ``url``.

    For SQLite, the database's folder is created if missing, every connection gets the
    pragmas above, and write transactions start with ``BEGIN IMMEDIATE``.

    >>> engine = make_engine("sqlite:///.dagwell/dagwell.db")
    >>> with engine.begin() as conn:  # BEGIN IMMEDIATE
    ...     conn.exec_driver_sql("SELECT 1")
    """
    url = make_url(url)
    # The same JSON text on every backend, NaN and infinities included (json_values.py).
    json_codec: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": loads}
    if url.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(
            url, pool_pre_ping=True, connect_args=_connect_args(url), **json_codec
        )
    _make_parent_folder(url)
    engine = sqlalchemy.create_engine(url, **json_codec)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


CONNECT_TIMEOUT_SECONDS = 10
"""How long connecting to a database server may take, unless the URL says otherwise."""


def _connect_args(url: URL) -> dict[str, Any]:
    # libpq waits for the OS to give up on an unreachable host (minutes) by default.
    if url.get_driver_name() in ("psycopg", "psycopg2") and "connect_timeout" not in url.query:
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


def for_reads(engine: Engine) -> Engine:
    """The same engine and pool, whose SQLite transactions begin DEFERRED (no write lock).

    Reads still run inside a transaction, so several SELECTs see one consistent snapshot.

    >>> with for_reads(engine).connect() as conn:
    ...     conn.execute(select(runs)).all()
    """
    return engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})


def is_sqlite(engine: Engine | Connection) -> bool:
    """True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _make_parent_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # None stops the driver from emitting BEGIN (and COMMIT before DDL); _on_begin does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_BUSY_TIMEOUT_PRAGMA)
        _use_wal(cursor)
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    # Switching a new database file to WAL needs an exclusive lock, and SQLite reports
    # "database is locked" at once, without the busy handler, while another connection
    # holds the file (two processes opening a fresh database together). So retry here.
    # Once the file is in WAL mode (it stays so), this returns on the first try.
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
    # The recipe's conn.exec_driver_sql(), minus a full statement execution (~15 us) per
    # transaction: the runner commits once per finished task.
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(_BEGIN_STATEMENTS[mode])
