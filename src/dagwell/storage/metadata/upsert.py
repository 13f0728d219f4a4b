"""Insert-or-update of one row, insert-if-new of one, and insert-if-missing of many, safe
when two processes write the same key at once.

An UPDATE, then an INSERT when nothing matched, races: two writers both INSERT and one fails
on the primary key. So does a SELECT of the keys, then an INSERT of the missing ones. SQLite
and PostgreSQL both say ``INSERT ... ON CONFLICT DO UPDATE`` (or ``DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
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


def insert_new(tx: Connection, table: Table, keys: Sequence[str], row: Mapping[str, Any]) -> bool:
    """Insert ``row`` into ``table`` unless a row with its ``keys`` exists; whether it did.

    Of two writers inserting one key at once, exactly one gets True (on PostgreSQL the
    second waits for the first to commit, then inserts nothing).

    >>> insert_new(tx, users, ["name"], {"name": "ada", "role": "admin", ...})
    True
    """
    dialect = tx.dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = make(table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
        # preserve_rowcount: else psycopg reports -1 for every INSERT.
        done = tx.execute(statement, execution_options={"preserve_rowcount": True})
        return bool(done.rowcount)
    match = [table.c[k] == row[k] for k in keys]
    if tx.execute(select(table.c[keys[0]]).where(*match)).first() is not None:
        return False
    tx.execute(insert(table).values(**row))  # racy, as in insert_missing below
    return True


def insert_missing(
    tx: Connection, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert the ``rows`` of ``table`` whose ``keys`` are not there yet; leave the others.

    Rows go in sorted by key: two transactions inserting overlapping keys on PostgreSQL then
    take the keys' locks in the same order, and one waits for the other instead of both
    deadlocking.

    >>> insert_missing(tx, dataset_versions, ["uri", "version"], new_versions)
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    dialect = tx.dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        tx.execute(make(table).on_conflict_do_nothing(index_elements=list(keys)), ordered)
        return
    for row in ordered:  # no portable "insert if absent": look first (racy, but no upsert)
        match = [table.c[k] == row[k] for k in keys]
        if tx.execute(select(table.c[keys[0]]).where(*match)).first() is None:
            tx.execute(insert(table).values(**row))
