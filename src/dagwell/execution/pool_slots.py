"""The pool slots of one run: taken before a node's attempt starts, given back when it ends.

The runner asks :class:`PoolSlots` for a slot of a node's pool in the transaction that
starts the attempt, and gives it back in the transaction that records the attempt's end,
so a slot is never held longer than the attempt's record says it ran. A node whose pool is
full waits here, still pending, while the rest of the run goes on; the runner hands it back
to :meth:`PoolSlots.take` after ``RETRY_SECONDS``, or at once when this run frees a slot.
The counting is in ``storage/metadata/pools.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from dagwell.errors import NotFoundError
from dagwell.execution.attempt import now

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.25
"""How long a node waits before it asks again for a slot another run may have freed."""


class PoolSlots:
    """The slots one run holds, and its nodes waiting for one.

    >>> slots = PoolSlots("3f2a9c01b2d4", clock=time.monotonic, used=True)
    >>> slots.take(tx, "train", "gpu")  # False if none is free: "train" is in slots.waiting
    True
    >>> slots.release(tx, ["train"])
    """

    def __init__(self, run_id: str, *, clock: Callable[[], float], used: bool) -> None:
        self.run_id = run_id
        self.clock = clock
        self.used = used
        """Whether any task of the run is in a pool (else no method touches the database)."""
        self.held: dict[str, str] = {}
        """Pool of each node that holds a slot."""
        self.waiting: list[str] = []
        """Nodes waiting for a slot, oldest first."""
        self.retry_at = 0.0
        """When (``clock`` time) the waiting nodes ask again."""
        # Pools found full since the waiting nodes last asked: a node of one of those waits
        # without a query, so many waiting nodes cost one query per pool per retry.
        self._full: set[str] = set()
        self._gone: set[str] = set()

    def take(self, tx: Connection, node: str, pool: str) -> bool:
        """Take a slot of ``pool`` for ``node``; False when none is free and it must wait."""
        from dagwell.storage.metadata import pools as queries

        if pool in self._gone:
            return True
        if pool not in self._full:
            try:
                got = queries.try_acquire(tx, pool, self.run_id, node, now())
            except NotFoundError:
                # Deleting a pool is refused while a slot is held, not while nodes wait for
                # one; failing them would need a new state transition, so the limit is lifted.
                log.warning(
                    "pool %r was deleted: its tasks in run %s run unlimited", pool, self.run_id
                )
                self._gone.add(pool)
                return True
            if got:
                self.held[node] = pool
                return True
            self._full.add(pool)
        if not self.waiting:
            self.retry_at = self.clock() + RETRY_SECONDS
        self.waiting.append(node)
        return False

    def due(self) -> list[str]:
        """The waiting nodes, oldest first, once it is time to ask again (else none)."""
        if not self.waiting or self.clock() < self.retry_at:
            return []
        due, self.waiting = self.waiting, []
        self._full.clear()
        return due

    def release(self, tx: Connection, nodes: Iterable[str]) -> None:
        """Give back the slots ``nodes`` hold (if any); the waiting nodes ask again at once."""
        from dagwell.storage.metadata import pools as queries

        freed = [node for node in nodes if self.held.pop(node, None) is not None]
        if freed:
            queries.release(tx, self.run_id, freed)
            self.retry_at = 0.0

    def release_all(self, tx: Connection) -> None:
        """Give back every slot of the run, whatever this object believes it holds.

        The run is ending (finished, cancelled, crashed): a transaction that failed may
        have left ``held`` out of step with the database.
        """
        from dagwell.storage.metadata import pools as queries

        if self.used:
            queries.release_run(tx, self.run_id)
        self.held.clear()
