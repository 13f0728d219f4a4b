"""Where dagwell keeps its records: built once at the edge and passed down explicitly.

Nothing here runs at import time; :meth:`Settings.from_env` reads the environment when
called, and CLI flags override what it finds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Locations of the metadata database, the artifact store (and the S3-compatible server
    holding it, if any) and the logs; and the Dask scheduler to run on, if any.

    >>> settings = Settings.from_env()
    >>> settings.db_url
    'sqlite:////home/me/project/.dagwell/dagwell.db'
    """

    home: Path
    db_url: str
    artifacts_url: str
    openlineage: str | None = None
    s3_endpoint: str | None = None
    dask_address: str | None = None

    @property
    def logs_dir(self) -> Path:
        """Folder holding one log file per attempt."""
        return self.home / "logs"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        artifacts_url: str | None = None,
    ) -> Settings:
        """Read ``DAGWELL_HOME``, ``DAGWELL_DB_URL``, ``DAGWELL_ARTIFACTS``,
        ``DAGWELL_OPENLINEAGE`` (where to send OpenLineage events: a file or a URL) and
        ``DAGWELL_S3_ENDPOINT`` (the ``http(s)://`` URL of an S3-compatible server, such as
        MinIO, for ``s3://`` artifacts; S3 credentials and region are botocore's usual
        ``AWS_*`` variables and profiles, read where the store is opened), and
        ``DAGWELL_DASK_ADDRESS`` (``tcp://host:port`` of a running Dask scheduler for
        ``executor="dask"``; without it that executor starts a temporary local cluster).

        Keyword arguments (CLI flags) win over the environment; the home defaults to
        ``./.dagwell``, the database to SQLite and the artifacts to a folder inside it.
        """
        env = os.environ if env is None else env
        home_path = Path(home or env.get("DAGWELL_HOME") or ".dagwell").expanduser().resolve()
        db = db_url or env.get("DAGWELL_DB_URL") or f"sqlite:///{home_path / 'dagwell.db'}"
        artifacts = artifacts_url or env.get("DAGWELL_ARTIFACTS") or str(home_path / "artifacts")
        lineage = env.get("DAGWELL_OPENLINEAGE") or None
        return cls(
            home=home_path,
            db_url=db,
            artifacts_url=artifacts,
            openlineage=lineage,
            s3_endpoint=env.get("DAGWELL_S3_ENDPOINT") or None,
            dask_address=env.get("DAGWELL_DASK_ADDRESS") or None,
        )

    def with_home(self, home: str | os.PathLike[str]) -> Settings:
        """The same settings rooted at another home folder (used by tests)."""
        return replace(self, home=Path(home).resolve())
