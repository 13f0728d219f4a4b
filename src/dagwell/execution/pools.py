"""Named pools: a slot count that tasks opt into with ``@dw.task(pool=...)``, across runs.

(Being written: see issue 4.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagwell.core.graph import Graph
    from dagwell.storage.metadata.store import MetadataStore


def check_pools(graph: Graph, store: MetadataStore) -> None:
    """Fail before the run starts when a node's task names a pool that does not exist."""
