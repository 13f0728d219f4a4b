"""Dataset queries: recording which dataset versions a run read, and listing them.

Functions take an open connection; :class:`~dagwell.storage.metadata.store.MetadataStore`
exposes them as methods.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from dagwell.core.datasets import DatasetVersion
from dagwell.storage.metadata.tables import dataset_versions, run_datasets, runs
from dagwell.storage.metadata.upsert import insert_missing


@dataclass(frozen=True)
class DatasetVersionRecord:
    """A recorded version of a dataset, with the runs (and nodes) that read it."""

    uri: str
    version: str
    size: int
    files: int
    snapshot_hash: str | None
    first_seen: datetime
    runs: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-able dict (``dagwell datasets --json``)."""
        return {
            "uri": self.uri,
            "version": self.version,
            "size": self.size,
            "files": self.files,
            "snapshot": self.snapshot_hash,
            "first_seen": self.first_seen.isoformat(),
            "runs": [{"run": run, "node": node} for run, node in self.runs],
        }


def record_dataset_uses(
    tx: Connection,
    run_id: str,
    uses: Sequence[tuple[str, DatasetVersion]],
    at: datetime,
) -> None:
    """Record that each ``(node, version)`` pair's node of ``run_id`` read that version."""
    versions = {(v.uri, v.version): v for _, v in uses}
    if not versions:
        return
    known = {
        (row.uri, row.version): row.snapshot_hash
        for row in tx.execute(
            select(
                dataset_versions.c.uri, dataset_versions.c.version, dataset_versions.c.snapshot_hash
            ).where(dataset_versions.c.uri.in_({uri for uri, _ in versions}))
        )
    }
    new = [
        {
            "uri": v.uri,
            "version": v.version,
            "size": v.size,
            "files": v.files,
            "snapshot_hash": v.snapshot_hash,
            "first_seen": at,
        }
        for key, v in versions.items()
        if key not in known
    ]
    # Another run may record the same new version at this moment: skip it if so.
    insert_missing(tx, dataset_versions, ["uri", "version"], new)
    for key, v in versions.items():
        if key in known and known[key] is None and v.snapshot_hash is not None:
            tx.execute(
                update(dataset_versions)
                .where(dataset_versions.c.uri == v.uri, dataset_versions.c.version == v.version)
                .values(snapshot_hash=v.snapshot_hash)
            )
    rows = {(node, v.uri): v.version for node, v in uses}
    tx.execute(
        run_datasets.insert(),
        [
            {"run_id": run_id, "node": node, "uri": uri, "version": version}
            for (node, uri), version in rows.items()
        ],
    )


def list_dataset_versions(conn: Connection, uri: str | None = None) -> list[DatasetVersionRecord]:
    """Every recorded dataset version (of ``uri`` only, if given), newest first per dataset."""
    query = select(dataset_versions).order_by(
        dataset_versions.c.uri, dataset_versions.c.first_seen.desc(), dataset_versions.c.version
    )
    if uri is not None:
        query = query.where(dataset_versions.c.uri == uri)
    found = conn.execute(query).all()
    readers: defaultdict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    uses = (
        select(
            run_datasets.c.uri, run_datasets.c.version, run_datasets.c.run_id, run_datasets.c.node
        )
        .join(runs, runs.c.id == run_datasets.c.run_id)
        .order_by(runs.c.created_at, run_datasets.c.run_id, run_datasets.c.node)
    )
    if uri is not None:
        uses = uses.where(run_datasets.c.uri == uri)
    for row in conn.execute(uses):
        readers[(row.uri, row.version)].append((row.run_id, row.node))
    return [
        DatasetVersionRecord(
            uri=row.uri,
            version=row.version,
            size=row.size,
            files=row.files,
            snapshot_hash=row.snapshot_hash,
            first_seen=row.first_seen,
            runs=tuple(readers[(row.uri, row.version)]),
        )
        for row in found
    ]
