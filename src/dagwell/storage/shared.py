"""One open store per URL per process, shared by every layer above storage.

A :class:`~dagwell.storage.metadata.store.MetadataStore` holds a connection pool and an
:class:`~dagwell.storage.artifacts.ArtifactStore` a filesystem handle, so runs, workers and
the model registry reuse one of each rather than opening their own. The store modules are
imported on first use: a plain ``import dagwell`` stays cheap.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagwell.storage.artifacts import ArtifactStore
    from dagwell.storage.metadata.store import MetadataStore


@lru_cache(maxsize=8)
def metadata_store(db_url: str) -> MetadataStore:
    """The metadata store of ``db_url``, opened once per process.

    >>> metadata_store(settings.db_url).get_run("3f2a")
    """
    from dagwell.storage.metadata.store import MetadataStore

    return MetadataStore(db_url)


_artifact_stores: dict[str, ArtifactStore] = {}


def artifact_store(url: str) -> ArtifactStore:
    """The artifact store rooted at ``url``, opened once per process.

    >>> artifact_store(settings.artifacts_url).get(stored)
    """
    store = _artifact_stores.get(url)
    if store is None:
        from dagwell.storage.artifacts import ArtifactStore

        store = _artifact_stores[url] = ArtifactStore(url)
    return store
