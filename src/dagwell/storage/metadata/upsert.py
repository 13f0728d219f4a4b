"""Insert-or-update of one row, safe when two processes write the same key at once.

An UPDATE, then an INSERT when nothing matched, races: two writers both INSERT and one fails
on the primary key. SQLite and PostgreSQL both say ``INSERT ... ON CONFLICT DO UPDATE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    tx: Connection,
    table: Table,
    keys: Sequence[str],
    values: Mapping[str, Any],
    *,
    on_insert: Mapping[str, Any] | None = None,
) -> None:
    """Write ``values`` into the row of ``table`` whose ``keys`` columns match, or add it.

    ``on_insert`` holds values used only when the row is new (defaults a change keeps).

    >>> upsert(tx, pools, ["name"], {"name": "gpu", "slots": 2}, on_insert={"description": ""})
    """
    dialect = tx.dialect.name
    row = {**(on_insert or {}), **values}
    changes = {k: v for k, v in values.items() if k not in keys}
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = make(table).values(**row)
        if changes:
            statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(keys))
        tx.execute(statement)
        return
    match = [table.c[k] == values[k] for k in keys]
    if tx.execute(update(table).where(*match).values(**changes)).rowcount == 0:
        tx.execute(insert(table).values(**row))
