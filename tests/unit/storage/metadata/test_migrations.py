"""Alembic migrations of the metadata database, and the cheap check that skips them."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dagwell.errors import StorageError
from dagwell.storage.metadata.engine import make_engine
from dagwell.storage.metadata.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revisions,
    ensure_schema,
    needs_upgrade,
    upgrade,
)
from dagwell.storage.metadata.tables import metadata

TABLES = {
    "alembic_version",
    "runs",
    "task_runs",
    "attempts",
    "outputs",
    "artifacts",
    "params",
    "metrics",
    "model_versions",
    "model_aliases",
    "dataset_versions",
    "run_datasets",
    "pipelines",
    "load_errors",
    "pools",
    "pool_leases",
    "alerts",
}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dagwell.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_head_revision_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_current_head() == HEAD_REVISION


def test_upgrade_creates_the_schema_on_an_empty_database(engine: sa.Engine) -> None:
    assert table_names(engine) == set()

    upgrade(engine)

    assert table_names(engine) == TABLES
    assert current_revisions(engine) == [HEAD_REVISION]


def test_the_migrated_schema_matches_tables_py(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        differences = compare_metadata(context, metadata)

    assert differences == []


def test_upgrading_twice_is_a_no_op(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE keep_me (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO keep_me VALUES (7)")

    upgrade(engine)

    assert current_revisions(engine) == [HEAD_REVISION]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM keep_me").scalar() == 7


def test_needs_upgrade_on_a_fresh_and_a_migrated_database(engine: sa.Engine) -> None:
    assert needs_upgrade(engine) is True

    upgrade(engine)

    assert needs_upgrade(engine) is False


def test_a_database_from_a_newer_dagwell_is_refused(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")

    assert needs_upgrade(engine) is True
    with pytest.raises(StorageError, match="newer dagwell"):
        upgrade(engine)


def test_foreign_keys_are_on_again_after_upgrading(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_downgrade_to_base_drops_the_tables(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")

    assert table_names(engine) == {"alembic_version"}
    assert needs_upgrade(engine) is True


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


def test_a_directly_created_schema_is_what_the_migrations_make(engine: sa.Engine) -> None:
    ensure_schema(engine)

    assert table_names(engine) == TABLES
    assert not needs_upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == HEAD_REVISION
    upgrade(engine)  # Alembic agrees it is at head: nothing to do, no error
    assert current_revisions(engine) == [HEAD_REVISION]


def test_ensure_schema_migrates_a_database_that_is_not_empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))

    ensure_schema(engine)

    assert table_names(engine) == TABLES | {"unrelated"}
    assert current_revisions(engine) == [HEAD_REVISION]


def test_upgrading_a_first_revision_database_keeps_its_runs(engine: sa.Engine, url: str) -> None:
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, pipeline, status, params, created_at, executor, trigger)"
                " VALUES ('r1', 'p', 'succeeded', '{}', '2026-01-01 00:00:00', 'inline', 'manual')"
            )
        )

    ensure_schema(engine)

    assert current_revisions(engine) == [HEAD_REVISION]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM runs")).scalars().all() == ["r1"]
