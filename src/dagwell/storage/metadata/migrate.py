"""Bringing the metadata database schema to the current revision, with Alembic.

Checking is cheap and runs on every start: one SELECT of ``alembic_version`` compared with
:data:`HEAD_REVISION`. Alembic itself (100+ ms to import) is imported only to upgrade. The
same code runs on SQLite and PostgreSQL; on PostgreSQL an advisory lock lets one process at
a time create or migrate the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from dagwell.errors import StorageError
from dagwell.storage.metadata.engine import for_reads, is_sqlite

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

HEAD_REVISION = "0008"
"""The newest migration in ``migrations/versions``; a unit test keeps the two in step."""

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

KNOWN_REVISIONS = frozenset(
    path.name.partition("_")[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")
)
"""The revisions of the migrations this dagwell ships (``0001`` to :data:`HEAD_REVISION`)."""

# Any fixed 64-bit number; it names the PostgreSQL advisory lock that serializes upgrades.
_PG_LOCK_KEY = 0x64_61_67_77_65_6C_6C


def current_revisions(engine: Engine) -> list[str]:
    """The revisions recorded in ``alembic_version``; empty for a database never migrated.

    >>> current_revisions(engine)
    ['0001']
    """
    # Connecting is outside the try: a server that cannot be reached is an error here.
    with for_reads(engine).connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except (OperationalError, ProgrammingError):
            return []  # no such table: an empty database
    return sorted(str(row[0]) for row in rows)


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands: the revisions it records, and the newest we know.

    >>> status = schema_status(engine)
    >>> status.current, status.pending
    ('0006', True)
    """

    revisions: tuple[str, ...]
    head: str = HEAD_REVISION

    @property
    def current(self) -> str | None:
        """The recorded revision (several joined by commas), or None for an empty database."""
        return ", ".join(self.revisions) or None

    @property
    def pending(self) -> bool:
        """True when the schema is missing or older than :attr:`head` (an upgrade would run)."""
        return self.revisions != (self.head,) and not self.newer

    @property
    def newer(self) -> bool:
        """True when a revision is unknown here: a newer dagwell wrote the database."""
        return any(r not in KNOWN_REVISIONS for r in self.revisions)


def schema_status(engine: Engine) -> SchemaStatus:
    """The :class:`SchemaStatus` of the database behind ``engine``; changes nothing.

    >>> schema_status(engine).pending
    False
    """
    return SchemaStatus(tuple(current_revisions(engine)))


def needs_upgrade(engine: Engine) -> bool:
    """True when the schema is missing or not at :data:`HEAD_REVISION`. Does not import Alembic.

    >>> if needs_upgrade(engine):
    ...     upgrade(engine)
    """
    return current_revisions(engine) != [HEAD_REVISION]


def ensure_schema(engine: Engine) -> None:
    """Bring the schema to :data:`HEAD_REVISION` by the cheapest safe route.

    A database at head costs one SELECT. An empty one gets the tables of ``tables.py``
    created directly and stamped at head, which is what the migrations would produce (a
    unit test keeps the two equal) without importing Alembic. Anything else is migrated.
    """
    revisions = current_revisions(engine)
    if revisions == [HEAD_REVISION]:
        return
    if not revisions and _create_fresh(engine):
        return
    upgrade(engine)


def _create_fresh(engine: Engine) -> bool:
    from sqlalchemy import inspect

    from dagwell.storage.metadata.tables import metadata

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if inspect(conn).get_table_names():
            return False  # not empty (or another process just created it): migrate instead
        metadata.create_all(conn)
        conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        conn.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION}
        )
    return True


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest), in one transaction.

    Safe to call from several processes at once: on SQLite the ``BEGIN IMMEDIATE`` of the
    migration transaction, on PostgreSQL an advisory lock, lets one upgrade at a time, and
    the later ones find the schema current.

    >>> upgrade(make_engine("sqlite:///.dagwell/dagwell.db"))
    """
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config()
    with engine.connect() as conn:
        sqlite = is_sqlite(conn)
        if sqlite:
            # Batch migrations copy and drop tables; with foreign keys on, dropping a parent
            # table would cascade-delete its children. The pragma is ignored inside a
            # transaction, so it is set before the BEGIN and restored after the COMMIT.
            _sqlite_pragma(conn, "PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                if sqlite:
                    _check_foreign_keys(conn)
        except CommandError as exc:
            raise StorageError(
                f"cannot migrate the metadata database {_safe_url(engine)} to {revision}: {exc}"
                " (was it written by a newer dagwell?)"
            ) from exc
        finally:
            if sqlite:
                _sqlite_pragma(conn, "PRAGMA foreign_keys = ON")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for our migrations, without an ini file.

    >>> from alembic import command
    >>> command.history(alembic_config())
    """
    from alembic.config import Config

    config = Config()
    # The value goes through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    # Straight to the driver: Connection.execute would BEGIN first.
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(pragma)


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise StorageError(f"migration left rows with broken foreign keys: {broken[:5]}")


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
