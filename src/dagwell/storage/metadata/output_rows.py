"""Output rows: the values nodes returned, and the artifact rows they point at, one a hash.

An output holds its value as JSON: inline, or a reference to an artifact by content hash.
An artifact row is inserted only when its hash is new. Functions take an open transaction;
:class:`~dagwell.storage.metadata.store.MetadataStore` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Executable, insert, select
from sqlalchemy.engine import Connection

from dagwell.core.values import StoredValue
from dagwell.storage.metadata.tables import artifacts, outputs

_INSERT_OUTPUT = insert(outputs)


def artifact_insert(dialect: str) -> Executable | None:
    """INSERT ... ON CONFLICT DO NOTHING for ``dialect``, or None if it has none we know."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(artifacts).on_conflict_do_nothing(index_elements=["hash"])
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(artifacts).on_conflict_do_nothing(index_elements=["hash"])
    return None


def insert_outputs(
    tx: Connection,
    run_id: str,
    nodes: Sequence[tuple[str, Mapping[str, StoredValue]]],
    insert_artifact: Executable | None,
) -> None:
    """Record the outputs of each ``(node, values)``, in their declared order.

    ``insert_artifact`` is the dialect's insert that skips known hashes (see
    :func:`artifact_insert`), or None to look them up first.
    """
    rows: list[dict[str, Any]] = []
    new_artifacts: dict[str, dict[str, Any]] = {}
    for node, values in nodes:
        _output_rows(run_id, node, values, rows, new_artifacts)
    if new_artifacts:
        insert_artifacts(tx, list(new_artifacts.values()), insert_artifact)
    tx.execute(_INSERT_OUTPUT, rows)


def insert_artifacts(
    tx: Connection, rows: list[dict[str, Any]], insert_artifact: Executable | None
) -> None:
    """Insert the artifact ``rows`` whose hash is not recorded yet, stamped with the time."""
    now = datetime.now(timezone.utc)
    for row in rows:
        row["created_at"] = now
    # By hash: two runs writing the same new artifacts at once on PostgreSQL then lock them
    # in the same order, so one waits for the other rather than both deadlocking.
    rows = sorted(rows, key=lambda row: str(row["hash"]))
    if insert_artifact is not None:
        tx.execute(insert_artifact, rows)
        return
    # No portable "insert if absent": look first. Races need a dialect's upsert.
    known = set(
        tx.scalars(select(artifacts.c.hash).where(artifacts.c.hash.in_([r["hash"] for r in rows])))
    )
    missing = [r for r in rows if r["hash"] not in known]
    if missing:
        tx.execute(insert(artifacts), missing)


def _output_rows(
    run_id: str,
    node: str,
    values: Mapping[str, StoredValue],
    rows: list[dict[str, Any]],
    new_artifacts: dict[str, dict[str, Any]],
) -> None:
    for position, (name, value) in enumerate(values.items()):
        artifact_hash = None
        if not value.is_inline:
            artifact_hash = value.hash
            if artifact_hash not in new_artifacts:
                new_artifacts[artifact_hash] = {
                    "hash": artifact_hash,
                    "size": value.size,
                    "serializer": value.serializer,
                    "type_name": value.type_name,
                }
        rows.append(
            {
                "run_id": run_id,
                "node": node,
                "name": name,
                "position": position,
                "value": value.to_json(),
                "artifact_hash": artifact_hash,
            }
        )


def find_artifact(conn: Connection, hash: str) -> StoredValue | None:
    """The recorded artifact ``hash`` (its serializer, type and size), or None."""
    row = conn.execute(
        select(artifacts.c.serializer, artifacts.c.type_name, artifacts.c.size).where(
            artifacts.c.hash == hash
        )
    ).first()
    if row is None:
        return None
    return StoredValue(hash=hash, serializer=row.serializer, size=row.size, type_name=row.type_name)
