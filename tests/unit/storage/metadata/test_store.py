"""MetadataStore on SQLite only: the file, its pragmas and locks, and what its rows look like.

What every backend must do (writes, fencing, reads back as core records) is the contract
suite in ``tests/contracts/test_metadata_store_*_contract.py``, run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dagwell.core.records import AttemptEnd, AttemptStart, Metric
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.core.values import StoredValue
from dagwell.errors import StorageError
from dagwell.storage.metadata.engine import for_reads
from dagwell.storage.metadata.store import MetadataStore, NewTaskRun

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
MODEL = StoredValue("h-model", "cloudpickle", 1234, "sklearn.LogisticRegression")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dagwell.db'}"


@pytest.fixture
def store(url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(url)
    yield store
    store.dispose()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read raw rows through a separate engine, as another process would."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def create(
    store: MetadataStore,
    run_id: str = "run-0001",
    nodes: tuple[str, ...] = ("ingest", "split", "fit"),
    *,
    pipeline: str = "churn",
    status: RunState = RunState.RUNNING,
) -> None:
    task_runs = [
        NewTaskRun(node, node.split("-")[0], upstream=tuple(nodes[:i][-1:]))
        for i, node in enumerate(nodes)
    ]
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id=run_id,
            pipeline=pipeline,
            params={"C": 0.5, "folds": 3},
            started_at=T0,
            executor="process",
            task_runs=task_runs,
            status=status,
        )


def succeed(store: MetadataStore, run_id: str, node: str, **outputs: StoredValue) -> bool:
    """Start attempt 1 of ``node`` and end it successfully; whether the end was recorded."""
    start = AttemptStart(node, 1, at(1), f"logs/{node}.1.log")
    end = AttemptEnd(node, 1, AttemptState.SUCCEEDED, at(2), TaskState.SUCCEEDED, outputs=outputs)
    with store.transaction() as tx:
        return store.record_attempts(tx, run_id, starts=[start], ends=[end]) == [True]


def test_times_are_stored_as_naive_utc_text(store: MetadataStore, url: str) -> None:
    create(store)
    with store.transaction() as tx:
        store.heartbeat(tx, "run-0001", at(30))

    assert rows(url, "SELECT heartbeat_at FROM runs") == [("2026-01-02 03:04:35.678901",)]


def test_aware_datetimes_are_stored_in_utc(store: MetadataStore, url: str) -> None:
    paris = timezone(timedelta(hours=2))
    local_start = datetime(2026, 6, 1, 14, 0, tzinfo=paris)
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id="run-tz",
            pipeline="churn",
            params={},
            started_at=local_start,
            executor="inline",
            task_runs=[],
        )

    started = store.get_run("run-tz").started_at

    assert started == local_start
    assert started is not None and started.tzinfo == timezone.utc and started.hour == 12
    assert rows(url, "SELECT started_at FROM runs") == [("2026-06-01 12:00:00.000000",)]


def test_sqlite_connections_use_wal_and_the_pragmas(store: MetadataStore) -> None:
    store.list_runs()
    with store._engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }

    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "synchronous": 1,
    }


def test_write_transactions_take_the_write_lock_at_begin(store: MetadataStore, url: str) -> None:
    store.list_runs()
    other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        with store.transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        with for_reads(store._engine).connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM runs").scalar()
            other.execute("BEGIN IMMEDIATE")  # a read holds no write lock
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_the_database_folder_is_created(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'a' / 'b' / 'dagwell.db'}")
    try:
        assert store.list_runs() == []
    finally:
        store.dispose()

    assert (tmp_path / "a" / "b" / "dagwell.db").is_file()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_artifact_insert_ignores_existing_hashes(dialect: str) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from dagwell.storage.metadata.output_rows import artifact_insert

    statement = artifact_insert(dialect)
    compiled = str(
        statement.compile(dialect={"sqlite": sqlite, "postgresql": postgresql}[dialect].dialect())  # type: ignore[union-attr]
    )

    assert "ON CONFLICT (hash) DO NOTHING" in compiled


def test_artifacts_are_deduplicated_without_a_dialect_upsert(
    store: MetadataStore, url: str
) -> None:
    store._insert_artifact = None  # as for a database other than SQLite or PostgreSQL
    create(store)
    succeed(store, "run-0001", "ingest", a=MODEL, b=MODEL)
    succeed(store, "run-0001", "split", again=MODEL)

    assert rows(url, "SELECT hash FROM artifacts") == [("h-model",)]


@pytest.mark.parametrize(
    ("make_url", "message"),
    [
        (lambda tmp: f"sqlite:///{tmp / 'a-file' / 'dagwell.db'}", "cannot create the folder"),
        (lambda tmp: "not a url", "not a database URL"),
        (lambda tmp: "mssql+nosuchdriver://h/db", "not a database URL|driver"),
    ],
)
def test_a_bad_database_location_is_a_storage_error_saying_what_to_fix(
    tmp_path: Path, make_url: Any, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StorageError, match=message):
        MetadataStore(make_url(tmp_path))


def test_a_nan_metric_is_stored_as_text_and_other_values_as_real(
    store: MetadataStore, url: str
) -> None:
    """SQLite keeps a NaN REAL as NULL, which the column refuses; the text 'NaN' is kept."""
    create(store)
    points = tuple(
        Metric("fit", "loss", value, step, at(step))
        for step, value in enumerate([math.nan, math.inf, 0.5])
    )
    end = AttemptEnd(
        "fit",
        1,
        AttemptState.SUCCEEDED,
        at(2),
        TaskState.SUCCEEDED,
        start=AttemptStart("fit", 1, at(1)),
        metrics=points,
    )
    with store.transaction() as tx:
        store.record_attempts(tx, "run-0001", ends=[end])

    assert rows(url, "SELECT typeof(value), value FROM metrics ORDER BY id") == [
        ("text", "NaN"),
        ("real", math.inf),
        ("real", 0.5),
    ]


def test_json_columns_hold_strict_json(store: MetadataStore, url: str) -> None:
    """Non-finite floats are written as marked objects, readable by any JSON parser."""
    with store.transaction() as tx:
        store.create_run(
            tx,
            run_id="run-nan",
            pipeline="churn",
            params={"C": math.nan, "grid": [1.0, -math.inf]},
            started_at=T0,
            executor="inline",
            task_runs=[],
        )

    ((text,),) = rows(url, "SELECT params FROM runs")
    assert json.loads(text, parse_constant=lambda word: pytest.fail(f"not JSON: {word}")) == {
        "C": {"__dagwell_float__": "nan"},
        "grid": [1.0, {"__dagwell_float__": "-inf"}],
    }


def test_bare_nan_words_written_before_are_still_read(store: MetadataStore, url: str) -> None:
    create(store)
    with store.transaction() as tx:
        tx.exec_driver_sql('UPDATE runs SET params = \'{"C": NaN, "D": Infinity}\'')

    params = store.get_run("run-0001").params

    assert math.isnan(params["C"]) and params["D"] == math.inf
