"""Alembic migrations on SQLite: batch mode and its foreign keys, one file upgraded twice
at once, and a fresh or current file opened without importing Alembic.

What migrations do on every backend (SQLite and PostgreSQL) is the contract suite in
``tests/contracts/test_metadata_schema_contract.py``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from dagwell.storage.metadata.engine import make_engine
from dagwell.storage.metadata.migrate import (
    HEAD_REVISION,
    KNOWN_REVISIONS,
    alembic_config,
    current_revisions,
    upgrade,
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dagwell.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_head_revision_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_current_head() == HEAD_REVISION
    assert {r.revision for r in script.walk_revisions()} == KNOWN_REVISIONS


def test_foreign_keys_are_on_again_after_upgrading(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_upgrades_of_one_file_both_succeed(url: str) -> None:
    engines = [make_engine(url), make_engine(url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def migrate(engine: sa.Engine) -> None:
        try:
            barrier.wait()
            upgrade(engine)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert current_revisions(engines[0]) == [HEAD_REVISION]
    finally:
        for engine in engines:
            engine.dispose()


def open_in_a_new_process(url: str) -> subprocess.CompletedProcess[str]:
    """Open the store at ``url`` and list runs in a fresh interpreter; fail if alembic loads."""
    code = (
        "import sys\n"
        "from dagwell.storage.metadata.store import MetadataStore\n"
        f"store = MetadataStore({url!r})\n"
        "store.list_runs()\n"
        "store.dispose()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_opening_a_current_database_does_not_import_alembic(engine: sa.Engine, url: str) -> None:
    upgrade(engine)

    done = open_in_a_new_process(url)

    assert done.returncode == 0, done.stderr


def test_a_fresh_database_is_created_at_head_without_importing_alembic(url: str) -> None:
    done = open_in_a_new_process(url)

    assert done.returncode == 0, done.stderr
