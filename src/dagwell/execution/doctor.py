"""``dagwell doctor``: check the configured database, artifact store and cluster, in plain words.

Each check connects for real and reports what is wrong the way a person would say it
(unreachable, bad credentials, missing bucket, migrations pending) with what to do about it.
Nothing here changes anything, except a small probe object written and removed again.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dagwell.settings import Settings

CLUSTER_TIMEOUT = 5.0
"""Seconds to wait for a Dask scheduler to answer."""


@dataclass(frozen=True)
class Check:
    """One thing checked: its name, whether it is fine, what was found, and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``dagwell doctor --json``)."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def diagnose(settings: Settings | None = None) -> list[Check]:
    """Check the metadata database, the artifact store and (if one is set) the Dask cluster.

    >>> [c for c in dw.diagnose() if not c.ok]
    [Check(name='database', ok=False, detail='cannot reach ...', fix='...')]
    """
    settings = settings or Settings.from_env()
    checks: list[Callable[[Settings], Check]] = [_database, _artifacts]
    if getattr(settings, "dask_address", None):
        checks.append(_cluster)
    return [check(settings) for check in checks]


def _database(settings: Settings) -> Check:
    from dagwell.storage.metadata.engine import make_engine
    from dagwell.storage.metadata.migrate import HEAD_REVISION, current_revisions

    safe = settings.db_url.split("@")[-1]
    name = f"database {safe}"
    try:
        engine = make_engine(settings.db_url)
    except Exception as exc:
        return Check(name, False, f"cannot open it: {exc}", "check DAGWELL_DB_URL")
    try:
        from sqlalchemy import text

        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revisions = current_revisions(engine)
    except Exception as exc:
        return _database_failure(name, exc)
    finally:
        engine.dispose()
    if not revisions:
        return Check(name, True, "reachable and empty: the tables are made on first use")
    if revisions == [HEAD_REVISION]:
        return Check(name, True, f"reachable, schema up to date (revision {HEAD_REVISION})")
    if max(revisions) < HEAD_REVISION:
        return Check(
            name,
            False,
            f"migrations pending: the schema is at revision {max(revisions)}, this dagwell "
            f"needs {HEAD_REVISION}",
            "dagwell db upgrade",
        )
    return Check(
        name,
        False,
        f"the schema (revision {max(revisions)}) is newer than this dagwell knows "
        f"({HEAD_REVISION})",
        "upgrade dagwell to the version the others use",
    )


def _database_failure(name: str, exc: Exception) -> Check:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    lowered = str(exc).lower()
    if "password authentication failed" in lowered or "authentication" in lowered:
        return Check(name, False, f"bad credentials: {text}", "check the user and password")
    if "does not exist" in lowered and "database" in lowered:
        return Check(name, False, f"no such database: {text}", "create it (createdb NAME)")
    if any(
        word in lowered
        for word in ("connection refused", "could not connect", "timeout", "timed out", "resolve")
    ):
        return Check(
            name,
            False,
            f"unreachable: {text}",
            "start the database server, or check the host and port in DAGWELL_DB_URL",
        )
    return Check(name, False, f"cannot use it: {text}", "check DAGWELL_DB_URL")


def _artifacts(settings: Settings) -> Check:
    from dagwell.errors import StorageError
    from dagwell.storage.filesystems import filesystem_for, is_s3

    url = settings.artifacts_url
    name = f"artifacts {url}"
    try:
        fs, root = filesystem_for(url, settings)
        if is_s3(url):
            bucket = root.split("/", 1)[0]
            if not fs.exists(bucket):
                # s3fs answers "no such bucket" for a server it cannot reach, too.
                unreachable = _unreachable(settings.s3_endpoint)
                if unreachable:
                    return Check(
                        name,
                        False,
                        f"unreachable: {unreachable}",
                        "start the object store, or check DAGWELL_S3_ENDPOINT",
                    )
                return Check(
                    name,
                    False,
                    f"missing bucket: {bucket!r} does not exist on "
                    f"{settings.s3_endpoint or 'AWS S3'}",
                    f"create it (e.g. aws s3 mb s3://{bucket})",
                )
        probe = f"{root.rstrip('/')}/.dagwell-doctor-{uuid.uuid4().hex[:8]}"
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(probe, b"ok")
        read = fs.cat_file(probe)
        fs.rm_file(probe)
    except StorageError as exc:
        return Check(name, False, str(exc), "check DAGWELL_ARTIFACTS and DAGWELL_S3_ENDPOINT")
    except PermissionError as exc:
        return Check(
            name,
            False,
            f"bad credentials or no permission: {exc}",
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the folder's permissions)",
        )
    except Exception as exc:
        return Check(
            name,
            False,
            f"unreachable or not writable: {type(exc).__name__}: {exc}",
            "check DAGWELL_ARTIFACTS and DAGWELL_S3_ENDPOINT",
        )
    if read != b"ok":
        return Check(name, False, "an object written could not be read back whole")
    return Check(name, True, "reachable; an object was written, read back and removed")


def _unreachable(endpoint: str | None) -> str | None:
    """Why nothing answers at ``endpoint`` (an http(s) URL), or None if something does."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "localhost", port), timeout=5).close()
    except OSError as exc:
        return f"nothing answers at {endpoint} ({exc.strerror or exc})"
    return None


def _cluster(settings: Settings) -> Check:
    address = str(getattr(settings, "dask_address", ""))
    name = f"dask cluster {address}"
    try:
        from distributed import Client
    except ImportError:
        return Check(name, False, "the Dask extra is not installed", "pip install 'dagwell[dask]'")
    try:
        with Client(address, timeout=CLUSTER_TIMEOUT, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            workers = client.scheduler_info().get("workers", {})
    except Exception as exc:
        return Check(
            name,
            False,
            f"unreachable: {type(exc).__name__}: {exc}",
            "start the scheduler (dask scheduler) or check DAGWELL_DASK_ADDRESS",
        )
    if not workers:
        return Check(name, False, "reachable, but no worker is connected", "start dask workers")
    return Check(name, True, f"reachable, {len(workers)} worker(s)")
