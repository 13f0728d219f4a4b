"""Runs on PostgreSQL: concurrent runs lose no update, caching and resuming work across runs,
and a server that cannot be reached is a plain StorageError.

Each test gets a fresh database on the session's throwaway server
(``tests/postgres_server.py``); the pipelines are in ``pipelines_for_postgres.py``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pipelines_for_postgres as p
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import dagwell as dw
from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.errors import StorageError
from dagwell.storage.metadata.store import MetadataStore
from dagwell.storage.metadata.tables import attempts, metrics, model_versions, outputs, params
from dagwell.storage.shared import metadata_store

pytestmark = pytest.mark.postgres

PIPELINES = Path(p.__file__)
NODES = 2 + p.WIDTH + 2
"""Nodes of ``wide``: together, count_lines, the fan-out, gather, expensive."""


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str) -> dw.Settings:
    """Settings with the metadata in this test's PostgreSQL database, the rest in tmp_path."""
    return dw.Settings.from_env({}, home=tmp_path / "home", db_url=postgres_url)


def calls(counter: Path) -> int:
    return len(counter.read_text()) if counter.exists() else 0


def rows_per_run(settings: dw.Settings, table: sa.Table) -> Counter[str]:
    """How many rows of ``table`` each run has."""
    query = sa.select(table.c.run_id, sa.func.count()).group_by(table.c.run_id)
    with metadata_store(settings.db_url).reading() as conn:
        return Counter({run_id: count for run_id, count in conn.execute(query)})


# -- concurrent runs ----------------------------------------------------------------------


def test_concurrent_runs_record_every_node_attempt_output_and_metric(
    tmp_path: Path, pg_settings: dw.Settings
) -> None:
    """Three ``dagwell run`` processes at once on one database: nothing lost, nothing doubled."""
    runs = 3
    data = tmp_path / "data.csv"
    data.write_text("a\nb\nc\n")
    gate = tmp_path / "gate"
    gate.mkdir()
    counter = tmp_path / "calls"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env.update(DAGWELL_HOME=str(pg_settings.home), DAGWELL_DB_URL=pg_settings.db_url)
    command = [sys.executable, "-m", "dagwell.interfaces.cli.main", "run", f"{PIPELINES}:wide"]
    command += ["-p", f"path={data}", "-p", f"counter={counter}", "-p", f"gate={gate}"]
    command += ["-p", f"runs={runs}", "--workers", "2", "-q"]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(runs)
    ]
    outputs_ = [process.communicate(timeout=110)[0] for process in processes]

    assert [process.returncode for process in processes] == [0] * runs, outputs_
    ids = [re.search(r"run (\w+) succeeded", out).group(1) for out in outputs_]  # type: ignore[union-attr]
    assert sorted(path.name for path in gate.iterdir()) == sorted(ids)  # they ran at once
    total = sum(i * i for i in range(p.WIDTH))
    for run_id in ids:
        run = dw.get_run(run_id, settings=pg_settings)
        assert run.status is RunState.SUCCEEDED
        assert run.result() == {"total": total, "cached": 100}
        assert len(run.tasks) == NODES
        ran = [t for t in run.tasks.values() if t.status is TaskState.SUCCEEDED]
        assert len(ran) in (NODES, NODES - 1)  # expensive may be a cache hit
        for task in ran:
            assert [a.status for a in task.attempts] == [AttemptState.SUCCEEDED], task.node
            assert list(task.outputs) == ["return"]
        for i in range(p.WIDTH):
            work = run.tasks["work" if i == 0 else f"work-{i}"]
            assert dict(work.params) == {"index": i, "lines": 3}
            assert run.output(work.node) == {"index": i, "square": i * i, "lines": 3}
        points = run.metric_points
        assert len(points) == 3 * p.WIDTH + 3
        odd = {m.name: m.value for m in points if m.name in ("odd", "big", "small")}
        assert math.isnan(odd["odd"]) and (odd["big"], odd["small"]) == (math.inf, -math.inf)

    # The rows themselves: exact counts per run, so no write went missing or twice.
    succeeded = {
        run_id: sum(
            len(t.attempts) for t in dw.get_run(run_id, settings=pg_settings).tasks.values()
        )
        for run_id in ids
    }
    assert rows_per_run(pg_settings, attempts) == Counter(succeeded)
    assert rows_per_run(pg_settings, outputs) == Counter({run_id: NODES for run_id in ids})
    assert rows_per_run(pg_settings, metrics) == Counter({i: 3 * p.WIDTH + 3 for i in ids})
    assert rows_per_run(pg_settings, params) == Counter({i: 2 * p.WIDTH for i in ids})
    versions = dw.models.versions("wide_model", settings=pg_settings)
    assert [v.version for v in versions] == list(range(1, runs + 1))
    assert sorted(v.run_id or "" for v in versions) == sorted(ids)
    (dataset,) = dw.list_datasets(str(data), settings=pg_settings)
    assert sorted(run for run, _ in dataset.runs) == sorted(ids)
    assert 1 <= calls(counter) <= runs
    with metadata_store(pg_settings.db_url).reading() as conn:
        numbers = conn.execute(sa.select(model_versions.c.version)).scalars().all()
    assert sorted(numbers) == list(range(1, runs + 1))


# -- caching and resuming -----------------------------------------------------------------


def test_a_cached_task_hits_across_runs(tmp_path: Path, pg_settings: dw.Settings) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\nb\n")
    counter = tmp_path / "calls"
    params = {"path": str(data), "counter": str(counter)}

    first = dw.run(p.wide, params, executor="inline", settings=pg_settings)
    second = dw.run(p.wide, params, executor="inline", settings=pg_settings)
    third = dw.run(p.wide, {**params, "x": 2}, executor="inline", settings=pg_settings)

    assert first.tasks["expensive"].status is TaskState.SUCCEEDED
    assert second.tasks["expensive"].status is TaskState.CACHED
    assert second.tasks["expensive"].attempts == ()
    assert second.result() == {"total": sum(i * i for i in range(p.WIDTH)), "cached": 100}
    assert third.tasks["expensive"].status is TaskState.SUCCEEDED
    assert third.result()["cached"] == 200
    assert calls(counter) == 2
    assert first.id in dw.why(second.id, "expensive", settings=pg_settings)[0]


def test_resuming_a_failed_run_reuses_what_succeeded(
    tmp_path: Path, pg_settings: dw.Settings
) -> None:
    flag = tmp_path / "fixed"
    counter = tmp_path / "calls"
    params = {"flag": str(flag), "counter": str(counter)}

    failed = dw.run(p.mends, params, executor="process", workers=2, settings=pg_settings)
    flag.touch()
    resumed = dw.resume(failed.id, executor="process", workers=2, settings=pg_settings)

    assert failed.status is RunState.FAILED
    assert failed.tasks["breaks_once-3"].status is TaskState.FAILED
    assert resumed.status is RunState.SUCCEEDED
    assert resumed.parent_run_id == failed.id
    statuses = Counter(t.status for t in resumed.tasks.values())
    assert statuses == Counter({TaskState.REUSED: 8, TaskState.SUCCEEDED: 1})
    assert resumed.tasks["breaks_once-3"].status is TaskState.SUCCEEDED
    assert resumed.result() == {"values": [i * 10 for i in range(8)], "cached": 700}
    assert calls(counter) == 1
    again = dw.run(p.mends, params, executor="inline", settings=pg_settings)
    assert again.tasks["expensive"].status is TaskState.CACHED and calls(counter) == 1


# -- connection errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": 1}, "Connection refused"),
        ({"password": "not-the-password"}, 'password authentication failed for user "postgres"'),
        ({"database": "no_such_database"}, 'database "no_such_database" does not exist'),
    ],
)
def test_a_server_that_cannot_be_reached_is_a_plain_storage_error(
    postgres_url: str, change: dict[str, object], message: str
) -> None:
    url = make_url(postgres_url).set(**change)  # type: ignore[arg-type]
    store = MetadataStore(url.render_as_string(hide_password=False))

    with pytest.raises(StorageError) as caught:
        store.list_runs()

    text = str(caught.value)
    assert text.startswith("cannot connect to the metadata database postgresql+psycopg://")
    assert message in text and "DAGWELL_DB_URL" in text
    assert "\n" not in text and "not-the-password" not in text
    assert make_url(postgres_url).password not in text  # type: ignore[operator]


def test_the_cli_says_it_cannot_connect_in_one_line(postgres_url: str, run_cli: object) -> None:
    bad = make_url(postgres_url).set(password="wrong").render_as_string(hide_password=False)

    done = run_cli("--db-url", bad, "runs")  # type: ignore[operator]

    assert done.returncode == 4
    assert done.stderr.startswith("error: cannot connect to the metadata database")
    assert done.stderr.count("\n") == 1 and "wrong" not in done.stderr
