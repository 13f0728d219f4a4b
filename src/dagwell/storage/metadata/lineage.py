"""Lineage queries: who produced an artifact, who read a dataset version, models by origin.

Edges are read from what runs already record: outputs (task run -> artifact), dataset
reads (dataset version -> task run), the graph's upstream lists (artifact -> task run) and
model versions (artifact -> model version).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from dagwell.storage.metadata.tables import model_versions, outputs, run_datasets, runs


def producers(conn: Connection, artifact_prefix: str) -> list[tuple[str, str, str]]:
    """``(hash, run, node)`` of task runs that output an artifact whose hash starts so."""
    found = conn.execute(
        select(outputs.c.artifact_hash, outputs.c.run_id, outputs.c.node)
        .join(runs, runs.c.id == outputs.c.run_id)
        .where(outputs.c.artifact_hash.startswith(artifact_prefix, autoescape=True))
        .order_by(runs.c.created_at, outputs.c.run_id, outputs.c.node, outputs.c.name)
    )
    return [(row[0], row[1], row[2]) for row in found]


def readers(conn: Connection, uri: str, version: str | None = None) -> list[tuple[str, str, str]]:
    """``(version, run, node)`` of task runs that read dataset ``uri`` (that version only)."""
    query = (
        select(run_datasets.c.version, run_datasets.c.run_id, run_datasets.c.node)
        .join(runs, runs.c.id == run_datasets.c.run_id)
        .where(run_datasets.c.uri == uri)
        .order_by(runs.c.created_at, run_datasets.c.run_id, run_datasets.c.node)
    )
    if version is not None:
        query = query.where(run_datasets.c.version.startswith(version, autoescape=True))
    return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def datasets_read(conn: Connection, run_id: str, node: str) -> list[tuple[str, str]]:
    """``(uri, version)`` of the datasets a task run read."""
    found = conn.execute(
        select(run_datasets.c.uri, run_datasets.c.version)
        .where(run_datasets.c.run_id == run_id, run_datasets.c.node == node)
        .order_by(run_datasets.c.uri)
    )
    return [(row[0], row[1]) for row in found]


def models_logged(conn: Connection, run_id: str, node: str) -> list[tuple[str, int]]:
    """``(name, version)`` of the model versions a task run registered."""
    found = conn.execute(
        select(model_versions.c.name, model_versions.c.version)
        .where(model_versions.c.run_id == run_id, model_versions.c.node == node)
        .order_by(model_versions.c.name, model_versions.c.version)
    )
    return [(row[0], row[1]) for row in found]


def models_by_artifact(conn: Connection, prefix: str) -> list[tuple[str, int]]:
    """``(name, version)`` of model versions stored as an artifact with this hash prefix."""
    found = conn.execute(
        select(model_versions.c.name, model_versions.c.version)
        .where(model_versions.c.artifact_hash.startswith(prefix, autoescape=True))
        .order_by(model_versions.c.name, model_versions.c.version)
    )
    return [(row[0], row[1]) for row in found]
