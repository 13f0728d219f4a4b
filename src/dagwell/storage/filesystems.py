"""Opening the filesystem behind a storage URL: the one place settings become fsspec options.

Plain local paths never come here: the artifact store writes them with ``os`` calls. For
``s3://`` URLs the endpoint of an S3-compatible server (MinIO, Ceph, a test server) is
``DAGWELL_S3_ENDPOINT`` (:attr:`~dagwell.settings.Settings.s3_endpoint`); credentials,
session token, profile and region are left to botocore, which reads them as every AWS tool
does (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ``~/.aws/config``, instance roles). Only
``AWS_REGION``, which botocore does not read, is passed on when ``AWS_DEFAULT_REGION`` is
unset. s3fs is an optional extra, imported here on first use.

A store opened by its URL alone (as workers open it) reads these variables from its own
process's environment, like the credentials: set them wherever workers run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from dagwell.errors import StorageError
from dagwell.settings import Settings

if TYPE_CHECKING:
    import fsspec

StorageConfig: TypeAlias = "Settings | Mapping[str, str]"
"""Where S3 settings come from: a :class:`Settings`, or an environment mapping."""

S3_INSTALL_HINT = "pip install 'dagwell[s3]'"

# Object stores show an object only once its upload is complete and cannot rename one
# atomically (a "move" is a copy and a delete), so objects are written in place.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})
_S3 = ("s3://", "s3a://")


def is_s3(url: str) -> bool:
    """Whether ``url`` names a place in S3 or an S3-compatible server.

    >>> is_s3("s3://bucket/prefix"), is_s3("/data/artifacts")
    (True, False)
    """
    return url.startswith(_S3)


def s3_endpoint(url: str, config: StorageConfig | None = None) -> str | None:
    """The S3-compatible server to use for ``url``: None for AWS itself or a non-S3 URL.

    ``config`` is a :class:`Settings` or an environment mapping (``os.environ`` if None).

    >>> s3_endpoint("s3://b/p", {"DAGWELL_S3_ENDPOINT": "http://127.0.0.1:9000"})
    'http://127.0.0.1:9000'
    """
    if not is_s3(url):
        return None
    if isinstance(config, Settings):
        endpoint = config.s3_endpoint
    else:
        endpoint = (os.environ if config is None else config).get("DAGWELL_S3_ENDPOINT")
    return endpoint or None


def storage_options(url: str, config: StorageConfig | None = None) -> dict[str, Any]:
    """The fsspec options for ``url``: for S3, the endpoint and a region botocore misses.

    Raises :class:`~dagwell.errors.StorageError` for an endpoint that is not an
    ``http(s)://`` URL.

    >>> storage_options("s3://b/p", {"DAGWELL_S3_ENDPOINT": "http://127.0.0.1:9000"})
    {'client_kwargs': {'endpoint_url': 'http://127.0.0.1:9000'}}
    """
    if not is_s3(url):
        return {}
    client: dict[str, str] = {}
    endpoint = s3_endpoint(url, config)
    if endpoint is not None:
        if not endpoint.startswith(("http://", "https://")):
            raise StorageError(
                f"DAGWELL_S3_ENDPOINT must be an http:// or https:// URL, got {endpoint!r}"
            )
        client["endpoint_url"] = endpoint
    env = os.environ if config is None or isinstance(config, Settings) else config
    if not env.get("AWS_DEFAULT_REGION") and env.get("AWS_REGION"):
        client["region_name"] = env["AWS_REGION"]
    return {"client_kwargs": client} if client else {}


def filesystem_for(
    url: str, config: StorageConfig | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem holding ``url`` and the path of ``url`` within it.

    Raises :class:`~dagwell.errors.StorageError` when the backend for the URL's scheme is
    not installed (naming the extra to install) or the URL is malformed.

    >>> fs, root = filesystem_for("s3://bucket/artifacts", settings)
    >>> root
    'bucket/artifacts'
    """
    import fsspec

    options = storage_options(url, config)
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        hint = S3_INSTALL_HINT if is_s3(url) else "install the fsspec backend for its scheme"
        raise StorageError(f"cannot open {url!r}: {hint} ({exc})") from exc
    except ValueError as exc:
        raise StorageError(f"cannot open {url!r}: {exc}") from exc
    if is_s3(url):
        # Credentials are looked up now, not during the first request: botocore announces
        # at INFO where it found them, and inside a task that line would land in its log.
        try:
            fs.connect()
        except Exception as exc:  # botocore's own errors: a missing profile, a bad config
            raise StorageError(f"cannot connect to {url!r}: {exc}") from exc
    return fs, str(root)


def is_object_store(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs`` is an object store (S3, GCS, Azure): whole objects, no atomic rename.

    >>> is_object_store(filesystem_for("s3://bucket")[0])
    True
    """
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return any(p in _OBJECT_STORES for p in protocols)
