"""One open store per URL per process, shared by every layer above storage.

A :class:`~dagwell.storage.metadata.store.MetadataStore` holds a connection pool and an
:class:`~dagwell.storage.artifacts.ArtifactStore` a filesystem handle, so runs, workers and
the model registry reuse one of each rather than opening their own. The store modules are
imported on first use: a plain ``import dagwell`` stays cheap.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from dagwell.storage.filesystems import s3_endpoint

if TYPE_CHECKING:
    from dagwell.storage.artifacts import ArtifactStore
    from dagwell.storage.filesystems import StorageConfig
    from dagwell.storage.metadata.store import MetadataStore


@lru_cache(maxsize=8)
def metadata_store(db_url: str) -> MetadataStore:
    """The metadata store of ``db_url``, opened once per process.

    >>> metadata_store(settings.db_url).get_run("3f2a")
    """
    from dagwell.storage.metadata.store import MetadataStore

    return MetadataStore(db_url)


_artifact_stores: dict[tuple[str, str | None], ArtifactStore] = {}


def artifact_store(url: str, settings: StorageConfig | None = None) -> ArtifactStore:
    """The artifact store rooted at ``url``, opened once per process (and S3 endpoint).

    For an ``s3://`` root, the S3-compatible endpoint is ``settings.s3_endpoint`` when
    ``settings`` is given (a :class:`Settings`, or an environment mapping), else
    ``DAGWELL_S3_ENDPOINT`` in this process's environment; see
    :mod:`dagwell.storage.filesystems`.

    >>> artifact_store(settings.artifacts_url, settings).get(stored)
    """
    endpoint = s3_endpoint(url, settings)
    store = _artifact_stores.get((url, endpoint))
    if store is None:
        from dagwell.storage.artifacts import ArtifactStore

        store = _artifact_stores[(url, endpoint)] = ArtifactStore(url, config=settings)
    return store


def worker_artifact_store(url: str, endpoint: str | None) -> ArtifactStore:
    """The artifact store as a worker opens it for an attempt: at the S3 ``endpoint`` the
    run was given (``Settings.s3_endpoint``, sent with the attempt), or, if None, at this
    process's ``DAGWELL_S3_ENDPOINT``. Credentials always come from this process.

    >>> worker_artifact_store(spec.artifacts_url, spec.s3_endpoint).get(stored)
    """
    if endpoint is None:
        return artifact_store(url)
    return artifact_store(url, {**os.environ, "DAGWELL_S3_ENDPOINT": endpoint})
