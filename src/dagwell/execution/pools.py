"""Named pools: a slot count that tasks opt into with ``@dw.task(pool=...)``, across runs.

``dw.set_pool``, ``dw.list_pools`` and ``dw.delete_pool`` manage pools, and
:func:`check_pools` stops a run before it is recorded when a task names a pool that does
not exist. The runner takes and gives back the slots (``execution/pool_slots.py``); the
counting itself is in ``storage/metadata/pools.py``, in the metadata database, so runs in
different processes share it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dagwell.errors import DefinitionError, NotFoundError
from dagwell.execution.attempt import now
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    from dagwell.core.graph import Graph
    from dagwell.storage.metadata.pools import PoolRecord
    from dagwell.storage.metadata.store import MetadataStore

# The same rule as for @dw.task(pool=...) in core/task.py, so every task can name any pool.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# The queries (and SQLAlchemy) are imported in each function: `import dagwell` stays cheap.


def check_pools(graph: Graph, store: MetadataStore) -> None:
    """Fail before the run starts when a node's task names a pool that does not exist.

    >>> check_pools(graph, store)
    DefinitionError: node 'train' runs in pool 'gpu', which does not exist; ...
    """
    first_user: dict[str, str] = {}
    for node in graph.nodes.values():
        if node.task.pool is not None:
            first_user.setdefault(node.task.pool, node.id)
    if not first_user:
        return  # no query for the many pipelines that use no pool
    from dagwell.storage.metadata import pools as queries

    with store.reading() as conn:
        known = queries.pool_names(conn, first_user)
    missing = sorted(set(first_user) - known)
    if missing:
        pool = missing[0]
        raise DefinitionError(
            f"node {first_user[pool]!r} runs in pool {pool!r}, which does not exist; create "
            f"it with the number of its tasks that may run at once, e.g.: dagwell pool set "
            f"{pool} 2"
        )


def set_pool(
    name: str, slots: int, *, description: str | None = None, settings: Settings | None = None
) -> PoolRecord:
    """Create pool ``name`` with ``slots`` slots, or change its slots; returns the pool.

    At most ``slots`` attempts of tasks declared ``@dw.task(pool=name)`` run at once, over
    every run that records into the same database. ``description=None`` keeps the current
    description (empty for a new pool).

    >>> dw.set_pool("gpu", 2, description="the two A100s")
    PoolRecord(name='gpu', slots=2, description='the two A100s', ...)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"a pool name is letters, digits, '_' and '.', not starting with a digit; got {name!r}"
        )
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise DefinitionError(f"pool {name!r}: slots must be an int >= 1, got {slots!r}")
    from dagwell.storage.metadata import pools as queries

    store = metadata_store((settings or Settings.from_env()).db_url)
    at = now()
    with store.transaction() as tx:
        queries.set_pool(tx, name, slots, description, at)
        return next(p for p in queries.list_pools(tx, at) if p.name == name)


def list_pools(*, settings: Settings | None = None) -> list[PoolRecord]:
    """Every pool by name, with the slots in use now and which run and node hold them.

    >>> [(p.name, p.in_use, p.slots) for p in dw.list_pools()]
    [('gpu', 1, 2)]
    """
    from dagwell.storage.metadata import pools as queries

    store = metadata_store((settings or Settings.from_env()).db_url)
    with store.reading() as conn:
        return queries.list_pools(conn, now())


def delete_pool(name: str, *, settings: Settings | None = None) -> None:
    """Delete pool ``name``; refused while a running run holds one of its slots.

    Runs that start later with a task in the pool fail before they are recorded.

    >>> dw.delete_pool("gpu")
    """
    from dagwell.storage.metadata import pools as queries

    store = metadata_store((settings or Settings.from_env()).db_url)
    with store.transaction() as tx:
        held = queries.leases(tx, name, now())
        if held:
            users = ", ".join(f"node {x.node!r} of run {x.run_id}" for x in held)
            raise DefinitionError(
                f"pool {name!r} is in use ({users}); wait for those runs to end, or cancel "
                "them, then delete it"
            )
        if not queries.delete_pool(tx, name):
            raise NotFoundError(f"no pool named {name!r}; see the pools with: dagwell pool list")
