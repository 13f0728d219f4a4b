"""The metadata schema, on SQLite and on PostgreSQL: Alembic migrations, the direct creation
of a fresh database, the check that skips both, and ``dagwell db upgrade`` / ``current``.

SQLite-only details (the foreign-keys pragma around batch migrations) are in
``tests/unit/storage/metadata/test_migrations.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dagwell.errors import StorageError
from dagwell.interfaces.cli.main import run_command_line
from dagwell.storage.metadata.engine import make_engine
from dagwell.storage.metadata.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revisions,
    ensure_schema,
    needs_upgrade,
    schema_status,
    upgrade,
)
from dagwell.storage.metadata.store import MetadataStore
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
    "users",
    "api_tokens",
    "audit_log",
    "install_secrets",
}

OLD_RUN = (
    "INSERT INTO runs (id, pipeline, status, params, created_at, executor, trigger)"
    " VALUES ('r1', 'p', 'succeeded', '{\"C\": 1}', '2026-01-01 00:00:00', 'inline', 'manual')"
)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def schema_differences(engine: sa.Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``tables.py``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_server_default": True, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def migrate_to(engine: sa.Engine, revision: str) -> None:
    """Migrate with Alembic's own command, as a database made by an older dagwell was."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def statements_during(engine: sa.Engine, call: Callable[[], object]) -> list[str]:
    seen: list[str] = []

    def keep(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    return seen


# -- migrations ---------------------------------------------------------------------------


def test_upgrade_creates_the_schema_on_an_empty_database(engine: sa.Engine) -> None:
    assert table_names(engine) == set()

    upgrade(engine)

    assert table_names(engine) == TABLES
    assert current_revisions(engine) == [HEAD_REVISION]
    assert schema_differences(engine) == []


def test_upgrading_an_older_database_keeps_its_runs(engine: sa.Engine, db_url: str) -> None:
    migrate_to(engine, "0006")
    with engine.begin() as conn:
        conn.execute(sa.text(OLD_RUN))
    assert needs_upgrade(engine)

    upgrade(engine)

    assert current_revisions(engine) == [HEAD_REVISION]
    assert schema_differences(engine) == []
    store = MetadataStore(db_url)
    try:
        run = store.get_run("r1")
    finally:
        store.dispose()
    assert (run.pipeline, run.params, run.scheduled_for) == ("p", {"C": 1}, None)


def test_upgrading_the_first_revision_keeps_its_runs(engine: sa.Engine) -> None:
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(OLD_RUN))

    ensure_schema(engine)

    assert current_revisions(engine) == [HEAD_REVISION]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM runs")).scalars().all() == ["r1"]


def test_upgrades_on_postgres_take_the_advisory_lock(engine: sa.Engine) -> None:
    migrate_to(engine, "0006")

    seen = statements_during(engine, lambda: upgrade(engine))

    locked = any("pg_advisory_xact_lock" in statement for statement in seen)
    assert locked is (engine.dialect.name == "postgresql")


def test_concurrent_upgrades_of_one_database_both_succeed(db_url: str) -> None:
    """Two processes starting on an old database at once: one migrates, the other waits."""
    engines = [make_engine(db_url), make_engine(db_url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    try:
        migrate_to(engines[0], "0005")

        def migrate(engine: sa.Engine) -> None:
            try:
                barrier.wait()
                upgrade(engine)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert current_revisions(engines[0]) == [HEAD_REVISION]
        assert schema_differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()


def test_upgrading_twice_is_a_no_op(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE keep_me (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO keep_me VALUES (7)")

    upgrade(engine)

    assert current_revisions(engine) == [HEAD_REVISION]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM keep_me").scalar() == 7


def test_a_database_from_a_newer_dagwell_is_refused(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")

    assert needs_upgrade(engine) is True
    status = schema_status(engine)
    assert (status.current, status.newer, status.pending) == ("9999", True, False)
    with pytest.raises(StorageError, match="newer dagwell"):
        upgrade(engine)


def test_downgrade_to_base_drops_the_tables(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")

    assert table_names(engine) == {"alembic_version"}
    assert needs_upgrade(engine) is True


# -- the fast paths -----------------------------------------------------------------------


def test_needs_upgrade_and_status_on_a_fresh_and_a_migrated_database(engine: sa.Engine) -> None:
    assert needs_upgrade(engine) is True
    assert schema_status(engine).current is None and schema_status(engine).pending

    upgrade(engine)

    assert needs_upgrade(engine) is False
    assert (schema_status(engine).current, schema_status(engine).pending) == (HEAD_REVISION, False)


def test_a_directly_created_schema_is_what_the_migrations_make(engine: sa.Engine) -> None:
    ensure_schema(engine)

    assert table_names(engine) == TABLES
    assert not needs_upgrade(engine)
    assert schema_differences(engine) == []
    upgrade(engine)  # Alembic agrees it is at head: nothing to do, no error
    assert current_revisions(engine) == [HEAD_REVISION]


def test_ensure_schema_migrates_a_database_that_is_not_empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))

    ensure_schema(engine)

    assert table_names(engine) == TABLES | {"unrelated"}
    assert current_revisions(engine) == [HEAD_REVISION]


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


def test_a_fresh_database_is_created_at_head_without_importing_alembic(
    db_url: str, engine: sa.Engine
) -> None:
    done = open_in_a_new_process(db_url)

    assert done.returncode == 0, done.stderr
    assert current_revisions(engine) == [HEAD_REVISION]


def test_opening_a_current_database_does_not_import_alembic(engine: sa.Engine, db_url: str) -> None:
    upgrade(engine)

    done = open_in_a_new_process(db_url)

    assert done.returncode == 0, done.stderr


# -- dagwell db ---------------------------------------------------------------------------


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def dagwell(capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """``dagwell(db_url, *args)``: run ``dagwell --db-url URL ARGS...`` in this process."""

    def run(db_url: str, *args: str) -> Done:
        code = run_command_line(["--db-url", db_url, *args])
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def test_db_current_and_upgrade_on_an_older_database(
    engine: sa.Engine, db_url: str, dagwell: Callable[..., Done]
) -> None:
    migrate_to(engine, "0006")

    before = dagwell(db_url, "db", "current")
    upgraded = dagwell(db_url, "db", "upgrade")
    again = dagwell(db_url, "db", "upgrade")
    after = dagwell(db_url, "db", "current", "--json")

    assert before.returncode == 0, before.stderr
    assert f"revision 0006, upgrade pending to {HEAD_REVISION}" in before.stdout
    assert "***" in before.stdout or db_url.startswith("sqlite")  # no password shown
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from revision 0006 to {HEAD_REVISION}" in upgraded.stdout
    assert f"already at revision {HEAD_REVISION}" in again.stdout
    assert json.loads(after.stdout) | {"database": "x"} == {
        "database": "x",
        "revision": HEAD_REVISION,
        "head": HEAD_REVISION,
        "pending": False,
        "newer": False,
    }


def test_db_upgrade_creates_an_empty_database(
    engine: sa.Engine, db_url: str, dagwell: Callable[..., Done]
) -> None:
    before = dagwell(db_url, "db", "current")
    created = dagwell(db_url, "db", "upgrade")

    assert "revision none, empty; upgrade pending" in before.stdout
    assert f"created at revision {HEAD_REVISION}" in created.stdout, created.stderr
    assert table_names(engine) == TABLES


def test_db_upgrade_refuses_a_database_from_a_newer_dagwell(
    engine: sa.Engine, db_url: str, dagwell: Callable[..., Done]
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")

    current = dagwell(db_url, "db", "current")
    refused = dagwell(db_url, "db", "upgrade")

    assert "revision 9999, written by a newer dagwell" in current.stdout
    assert refused.returncode == 4
    assert "newer dagwell" in refused.stderr
