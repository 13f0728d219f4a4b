"""Pool queries: defining named pools, and the leases that hold their slots across runs.

A node of a run holds one lease (a row of ``pool_leases``) while its attempt runs. A pool
with ``slots`` slots has at most that many leases held by live runs; the check and the
insert happen in one write transaction, so runs in different processes share the count.
A lease whose run is no longer running, or whose runner stopped beating for
:data:`STALE_AFTER` seconds (it was killed), holds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from dagwell.core.states import RunState
from dagwell.errors import NotFoundError
from dagwell.storage.metadata.tables import pool_leases, pools, runs
from dagwell.storage.metadata.upsert import upsert

STALE_AFTER = 60.0
"""Seconds without a heartbeat after which a running run's leases no longer count."""


@dataclass(frozen=True)
class Lease:
    """A slot of a pool held by ``node`` of run ``run_id`` since ``acquired_at``."""

    run_id: str
    node: str
    acquired_at: datetime


@dataclass(frozen=True)
class PoolRecord:
    """A named pool: its slot count, description, and the leases live runs hold now.

    >>> [(p.name, p.in_use, p.slots) for p in list_pools(conn, now)]
    [('gpu', 1, 2)]
    """

    name: str
    slots: int
    description: str
    updated_at: datetime
    leases: tuple[Lease, ...] = ()

    @property
    def in_use(self) -> int:
        """How many slots live runs hold."""
        return len(self.leases)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for ``--json`` output and the web API."""
        return {
            "name": self.name,
            "slots": self.slots,
            "in_use": self.in_use,
            "description": self.description,
            "updated_at": self.updated_at.isoformat(),
            "leases": [
                {"run_id": x.run_id, "node": x.node, "acquired_at": x.acquired_at.isoformat()}
                for x in self.leases
            ],
        }


def set_pool(tx: Connection, name: str, slots: int, description: str | None, at: datetime) -> None:
    """Create pool ``name`` or change its slots; ``description=None`` keeps the current one.

    >>> set_pool(tx, "gpu", 2, "the two A100s", now)
    """
    values: dict[str, Any] = {"slots": slots, "updated_at": at}
    if description is not None:
        values["description"] = description
    upsert(tx, pools, ["name"], {"name": name, **values}, on_insert={"description": ""})


def delete_pool(tx: Connection, name: str) -> bool:
    """Forget pool ``name`` and its leases; False when there was no such pool.

    >>> delete_pool(tx, "gpu")
    True
    """
    tx.execute(delete(pool_leases).where(pool_leases.c.pool == name))
    return bool(tx.execute(delete(pools).where(pools.c.name == name)).rowcount)


def pool_names(conn: Connection, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are defined pools.

    >>> pool_names(conn, ["gpu", "tpu"])
    {'gpu'}
    """
    wanted = sorted(set(names))
    if not wanted:
        return set()
    return set(conn.scalars(select(pools.c.name).where(pools.c.name.in_(wanted))))


def list_pools(conn: Connection, at: datetime) -> list[PoolRecord]:
    """Every pool by name, each with the leases that live runs hold at ``at``.

    >>> list_pools(conn, now)[0].leases
    (Lease(run_id='3f2a9c01b2d4', node='train', acquired_at=...),)
    """
    held: dict[str, list[Lease]] = {}
    for pool, lease in _live_leases(conn, at):
        held.setdefault(pool, []).append(lease)
    found = conn.execute(
        select(pools.c.name, pools.c.slots, pools.c.description, pools.c.updated_at).order_by(
            pools.c.name
        )
    )
    return [
        PoolRecord(
            row.name, row.slots, row.description, row.updated_at, tuple(held.get(row.name, ()))
        )
        for row in found
    ]


def leases(conn: Connection, pool: str, at: datetime) -> list[Lease]:
    """The leases of ``pool`` that live runs hold at ``at``, oldest first.

    >>> [(x.run_id, x.node) for x in leases(conn, "gpu", now)]
    [('3f2a9c01b2d4', 'train')]
    """
    return [lease for _, lease in _live_leases(conn, at, pool=pool)]


def try_acquire(tx: Connection, pool: str, run_id: str, node: str, at: datetime) -> bool:
    """Take a slot of ``pool`` for ``node`` of ``run_id`` if one is free; say whether it did.

    Call it in a write transaction. On PostgreSQL the pool's row is locked first, so two
    runs cannot both see the last free slot; SQLite's ``BEGIN IMMEDIATE`` already
    serializes writers. Raises :class:`NotFoundError` when the pool no longer exists.

    >>> try_acquire(tx, "gpu", "3f2a9c01b2d4", "train", now)
    True
    """
    slots = tx.scalar(select(pools.c.slots).where(pools.c.name == pool).with_for_update())
    if slots is None:
        raise NotFoundError(
            f"pool {pool!r} does not exist (it was deleted); create it with: "
            f"dagwell pool set {pool} SLOTS"
        )
    if len(_live_leases(tx, at, pool=pool)) >= slots:
        return False
    tx.execute(insert(pool_leases).values(run_id=run_id, node=node, pool=pool, acquired_at=at))
    return True


def release(tx: Connection, run_id: str, nodes: Sequence[str]) -> None:
    """Give back the slots that ``nodes`` of ``run_id`` hold (nodes holding none are fine).

    >>> release(tx, "3f2a9c01b2d4", ["train"])
    """
    if nodes:
        tx.execute(
            delete(pool_leases).where(
                pool_leases.c.run_id == run_id, pool_leases.c.node.in_(list(nodes))
            )
        )


def release_run(tx: Connection, run_id: str) -> None:
    """Give back every slot that run ``run_id`` holds: when it ends, is cancelled or dies.

    >>> release_run(tx, "3f2a9c01b2d4")
    """
    tx.execute(delete(pool_leases).where(pool_leases.c.run_id == run_id))


def _live_leases(
    conn: Connection, at: datetime, *, pool: str | None = None
) -> list[tuple[str, Lease]]:
    """``(pool, lease)`` of the leases whose runs are running and beat recently."""
    query = (
        select(
            pool_leases.c.pool,
            pool_leases.c.run_id,
            pool_leases.c.node,
            pool_leases.c.acquired_at,
            runs.c.heartbeat_at,
            runs.c.started_at,
        )
        .join(runs, runs.c.id == pool_leases.c.run_id)
        .where(runs.c.status == RunState.RUNNING.value)
        .order_by(pool_leases.c.acquired_at, pool_leases.c.run_id, pool_leases.c.node)
    )
    if pool is not None:
        query = query.where(pool_leases.c.pool == pool)
    live = []
    for row in conn.execute(query):
        beat = row.heartbeat_at or row.started_at or row.acquired_at
        if (at - beat).total_seconds() < STALE_AFTER:
            live.append((row.pool, Lease(row.run_id, row.node, row.acquired_at)))
    return live
