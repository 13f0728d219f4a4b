"""``dagwell doctor`` against real services: SQLite, PostgreSQL, an S3 server, a Dask address."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

import dagwell as dw
from dagwell.execution.doctor import Check, diagnose
from dagwell.storage.metadata.migrate import alembic_config


def by_name(checks: list[Check], prefix: str) -> Check:
    [found] = [c for c in checks if c.name.startswith(prefix)]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_healthy_local_setup_passes_every_check(settings: dw.Settings) -> None:
    checks = diagnose(settings)

    assert [c.ok for c in checks] == [True, True], checks
    assert "written, read back and removed" in by_name(checks, "artifacts").detail


def test_pending_migrations_are_named_with_the_command_that_applies_them(
    settings: dw.Settings,
) -> None:
    engine = sa.create_engine(settings.db_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
    engine.dispose()

    database = by_name(diagnose(settings), "database")

    assert not database.ok
    assert "migrations pending" in database.detail and "0006" in database.detail
    assert database.fix == "dagwell db upgrade"


def test_postgres_unreachable_and_bad_password_are_told_apart(
    settings: dw.Settings, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    unreachable = url.set(port=free_port()).render_as_string(hide_password=False)
    bad_password = url.set(password="wrong").render_as_string(hide_password=False)

    down = by_name(diagnose(replace(settings, db_url=unreachable)), "database")
    refused = by_name(diagnose(replace(settings, db_url=bad_password)), "database")
    fine = by_name(diagnose(replace(settings, db_url=postgres_url)), "database")

    assert not down.ok and down.detail.startswith("unreachable"), down
    assert not refused.ok and refused.detail.startswith("bad credentials"), refused
    assert "wrong" not in refused.name  # no password in what is printed
    assert fine.ok, fine


def test_a_missing_bucket_is_named(settings: dw.Settings, s3_url: Any) -> None:
    missing = replace(
        settings, artifacts_url="s3://dagwell-no-such-bucket/x", s3_endpoint=s3_url.endpoint
    )
    present = replace(settings, artifacts_url=s3_url.url, s3_endpoint=s3_url.endpoint)

    gone = by_name(diagnose(missing), "artifacts")
    there = by_name(diagnose(present), "artifacts")

    assert not gone.ok and gone.detail.startswith("missing bucket"), gone
    assert "dagwell-no-such-bucket" in gone.detail
    assert there.ok, there


def test_an_object_store_that_does_not_answer_is_unreachable_not_a_missing_bucket(
    settings: dw.Settings,
) -> None:
    silent = replace(
        settings,
        artifacts_url="s3://any-bucket/x",
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
    )

    found = by_name(diagnose(silent), "artifacts")

    assert not found.ok and found.detail.startswith("unreachable: nothing answers at"), found
    assert "DAGWELL_S3_ENDPOINT" in (found.fix or "")


def test_a_dask_scheduler_that_does_not_answer_is_unreachable(settings: dw.Settings) -> None:
    pytest.importorskip("distributed")
    nowhere = replace(settings, dask_address=f"tcp://127.0.0.1:{free_port()}")

    found = by_name(diagnose(nowhere), "dask cluster")

    assert not found.ok and found.detail.startswith("unreachable"), found
    assert "dask scheduler" in (found.fix or "")


def test_the_cli_exits_1_and_says_what_failed(tmp_path: Path) -> None:
    env = {
        "DAGWELL_HOME": str(tmp_path / "home"),
        "DAGWELL_DB_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "dagwell.interfaces.cli.main", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1, done.stderr
    checks = json.loads(done.stdout)
    assert [(c["name"].split()[0], c["ok"]) for c in checks] == [
        ("database", False),
        ("artifacts", True),
    ]
    assert checks[0]["detail"].startswith("unreachable")
