"""The metadata database schema, as SQLAlchemy Core tables: runs, task runs, attempts, outputs.

Only declarations live here; the queries are in ``store.py`` and every change to these tables
goes through a migration in ``migrations/versions/``. Types are portable (SQLite and
PostgreSQL): states are plain strings, structured values are ``JSON``, and times are
:class:`UTCDateTime`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Explicit constraint names, so Alembic's batch mode on SQLite recreates tables predictably."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as naive UTC and read back with ``tzinfo=UTC``.

    Naive datetimes are refused: their time zone is a guess.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=timezone.utc)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

runs = Table(
    "runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("pipeline", String, nullable=False, index=True),
    Column("status", String, nullable=False, index=True),
    Column("params", JSON, nullable=False),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("executor", String, nullable=False),
    Column("error", Text),
    # The pipeline's return spec; None is stored as SQL NULL, not JSON 'null'.
    Column("result", JSON(none_as_null=True)),
    Column(
        "parent_run_id",
        String,
        ForeignKey("runs.id", ondelete="SET NULL"),
        index=True,
    ),
    Column("trigger", String, nullable=False, default="manual", server_default="manual"),
    Column("heartbeat_at", UTCDateTime),
    # Artifact hash of the run's code snapshot (a JSON document: files, git info).
    Column("code_hash", String),
    # Python version, platform and installed packages when the run started.
    Column("environment", JSON(none_as_null=True)),
    # "host:pid" of the process running the run, to tell a dead runner from a live one.
    Column("runner", String),
    # The logical time of a scheduled, backfilled or caught-up run (dw.current().scheduled_for).
    Column("scheduled_for", UTCDateTime, index=True),
    # "FILE:NAME" of the pipeline, for runs a scheduler daemon starts (queued, resumed).
    Column("source", Text),
    # "pipeline|logical time" for runs a schedule or backfill queued: unique, so no logical
    # time is ever queued twice, even by several schedulers at once.
    Column("claim_key", String, unique=True),
    # Set by a user (the UI, the API) asking the runner to cancel the run; the runner
    # polls it with its heartbeat and stops the run's attempts.
    Column("cancel_requested_at", UTCDateTime),
    Column("cancel_requested_by", String),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("run_id", String, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("node", String, primary_key=True),
    # Creation order within the run (graph order, then fan-out children as they appear).
    Column("seq", Integer, nullable=False),
    Column("task", String, nullable=False),
    Column("status", String, nullable=False),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("upstream", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("error", Text),
    Column("map_parent", String),
    Column("map_index", Integer),
    # Caching: the key of the node's call, its parts (to explain a miss), and, for a
    # cache hit, the run whose outputs it took.
    Column("cache_key", String),
    Column("cache_parts", JSON(none_as_null=True)),
    Column("cached_from", String),
    UniqueConstraint("run_id", "seq"),
    Index(None, "task", "cache_key"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("node", String, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("status", String, nullable=False),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("error", Text),
    Column("traceback", Text),
    Column("log_path", Text),
    ForeignKeyConstraint(
        ["run_id", "node"], ["task_runs.run_id", "task_runs.node"], ondelete="CASCADE"
    ),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("hash", String, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("serializer", String, nullable=False),
    Column("type_name", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

outputs = Table(
    "outputs",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("node", String, primary_key=True),
    Column("name", String, primary_key=True),
    # Order of the outputs as the task declared them ("train", "test").
    Column("position", Integer, nullable=False),
    Column("value", JSON, nullable=False),
    # Null when the value is held inline in ``value``.
    Column("artifact_hash", String, ForeignKey("artifacts.hash")),
    ForeignKeyConstraint(
        ["run_id", "node"], ["task_runs.run_id", "task_runs.node"], ondelete="CASCADE"
    ),
    Index(None, "artifact_hash"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("node", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", JSON, nullable=False),
    ForeignKeyConstraint(
        ["run_id", "node"], ["task_runs.run_id", "task_runs.node"], ondelete="CASCADE"
    ),
)
"""Params that tasks logged with ``dw.log_param``; pipeline params live in ``runs.params``."""

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String, nullable=False),
    Column("node", String, nullable=False),
    Column("name", String, nullable=False),
    Column("step", Integer),
    Column("value", Float, nullable=False),
    Column("logged_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["run_id", "node"], ["task_runs.run_id", "task_runs.node"], ondelete="CASCADE"
    ),
    Index(None, "run_id", "name"),
)
"""Every metric point a task logged with ``dw.log_metric``, in logging order (by id)."""

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_id", String, ForeignKey("runs.id", ondelete="SET NULL"), index=True),
    Column("node", String),
    Column("artifact_hash", String, ForeignKey("artifacts.hash"), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Each registered version of a model: the artifact holding it and the run that made it."""

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String, primary_key=True),
    Column("alias", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], ondelete="CASCADE"
    ),
)
"""Named pointers to model versions (``production``, ``staging``); one version per alias."""

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("uri", String, primary_key=True),
    Column("version", String, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("files", Integer, nullable=False),
    # Artifact hash of the snapshot's manifest, when the content was copied into the store.
    Column("snapshot_hash", String),
    Column("first_seen", UTCDateTime, nullable=False),
)
"""Every content version seen of every dataset (a file, folder or URL)."""

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("node", String, primary_key=True),
    Column("uri", String, primary_key=True),
    Column("version", String, nullable=False),
    ForeignKeyConstraint(
        ["run_id", "node"], ["task_runs.run_id", "task_runs.node"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["uri", "version"], ["dataset_versions.uri", "dataset_versions.version"]),
    Index(None, "uri", "version"),
)
"""Which node of which run read which dataset version: the first edges of lineage."""

pipelines = Table(
    "pipelines",
    metadata,
    Column("name", String, primary_key=True),
    # "FILE:NAME" the daemon loaded the pipeline from.
    Column("source", Text, nullable=False),
    Column("description", Text, nullable=False),
    # The pipeline's params: name, type and default (as text), for forms and listings.
    Column("params", JSON, nullable=False),
    Column("max_active_runs", Integer, nullable=False),
    # Cron text ("0 3 * * *", "@daily") or an interval ("every 30s"); null: not scheduled.
    Column("schedule", String),
    Column("timezone", String),
    Column("start_at", UTCDateTime),
    Column("catchup", Boolean, nullable=False),
    # The params of scheduled runs.
    Column("schedule_params", JSON, nullable=False),
    # The newest logical time queued so far, and the next one due.
    Column("last_scheduled_for", UTCDateTime),
    Column("next_due_at", UTCDateTime),
    # False once the pipeline is gone from the files the daemon reads.
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The pipelines a scheduler daemon registered from its files, with their schedules."""

load_errors = Table(
    "load_errors",
    metadata,
    Column("path", Text, primary_key=True),
    Column("error", Text, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)
"""Pipeline files the daemon could not load, with the reason, until they load again."""

pools = Table(
    "pools",
    metadata,
    Column("name", String, primary_key=True),
    Column("slots", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""Named pools: at most ``slots`` attempts of tasks in a pool run at once, across runs."""

pool_leases = Table(
    "pool_leases",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("node", String, primary_key=True),
    Column("pool", String, ForeignKey("pools.name", ondelete="CASCADE"), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Index(None, "pool"),
)
"""Which node of which run holds a slot of which pool, while its attempt runs."""

alerts = Table(
    "alerts",
    metadata,
    Column("id", String, primary_key=True),
    # failure, retry, success or sla_miss
    Column("kind", String, nullable=False, index=True),
    Column("pipeline", String, nullable=False),
    Column("run_id", String, nullable=False, index=True),
    Column("node", String),
    Column("attempt", Integer),
    Column("summary", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    # One entry per notifier: its name, whether it delivered, tries and last error.
    Column("deliveries", JSON, nullable=False),
)
"""Every alert raised (a failure, a retry, a success or a missed SLA) and its deliveries."""

users = Table(
    "users",
    metadata,
    Column("name", String, primary_key=True),
    # viewer, operator or admin
    Column("role", String, nullable=False),
    # An argon2 hash; NULL for a user who signs in with API tokens only.
    Column("password_hash", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""People and scripts that may use the web UI and the API, each with one role."""

api_tokens = Table(
    "api_tokens",
    metadata,
    # A short public id, shown in listings and used to revoke the token.
    Column("id", String, primary_key=True),
    Column("user_name", String, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("label", Text, nullable=False, default=""),
    # SHA-256 of the secret token: the token itself is shown once and never stored.
    Column("token_hash", String, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index(None, "user_name"),
)
"""API tokens for scripts (``Authorization: Bearer``), each acting as its user."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String, nullable=False, index=True),
    # login, trigger, resume, cancel, set_alias, add_user, remove_user, create_token, ...
    Column("action", String, nullable=False),
    Column("target", Text, nullable=False, default=""),
    # ok, denied or failed
    Column("outcome", String, nullable=False),
    # ui, api or cli
    Column("source", String, nullable=False),
    Column("detail", JSON, nullable=False),
)
"""Who did what and when: every action taken through the UI, the API or the account CLI."""

install_secrets = Table(
    "install_secrets",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Random secrets made once per install (the session-cookie key), shared by every UI server."""
