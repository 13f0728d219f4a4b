"""Alembic environment for the metadata database; ``migrate.upgrade`` drives it.

The caller passes an open connection in ``config.attributes["connection"]`` (already inside
a transaction, which the migrations then join). Without one, ``sqlalchemy.url`` from the
config is used, so developers can also run ``alembic`` by hand with ``-c`` and a URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from dagwell.storage.metadata.engine import make_engine
from dagwell.storage.metadata.tables import metadata


def run_online(connection: Connection) -> None:
    """Run the migrations on ``connection``; batch mode on SQLite, which has little ALTER."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline(url: str) -> None:
    """Print the SQL of the migrations for ``url``'s dialect instead of running them."""
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Pick the mode and the connection from Alembic's config."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        run_online(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database to migrate: pass config.attributes['connection'] or sqlalchemy.url"
        )
    if context.is_offline_mode():
        run_offline(url)
        return
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            run_online(conn)
    finally:
        engine.dispose()


main()
