"""Fixtures of the metadata-store contract suites: the same tests on SQLite and on PostgreSQL.

``db_url`` is parametrized over both backends: a SQLite file in the test's tmp_path, and a
fresh database on the session's PostgreSQL server (``tests/postgres_server.py``). Its
PostgreSQL case carries the ``postgres`` marker, so ``-m "not postgres"`` leaves it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dagwell.storage.metadata.store import MetadataStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQLAlchemy URL of an empty metadata database, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dagwell.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[MetadataStore]:
    """A metadata store on ``db_url``, closed after the test."""
    store = MetadataStore(db_url)
    yield store
    store.dispose()
