"""Scheduling: logical times and sources of runs, pipelines, load errors, pools and alerts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claim_key", sa.String(), nullable=True))
        batch.create_index(batch.f("ix_runs_scheduled_for"), ["scheduled_for"])
        batch.create_unique_constraint(batch.f("uq_runs_claim_key"), ["claim_key"])
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("max_active_runs", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("catchup", sa.Boolean(), nullable=False),
        sa.Column("schedule_params", sa.JSON(), nullable=False),
        sa.Column("last_scheduled_for", sa.DateTime(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pipelines")),
    )
    op.create_table(
        "load_errors",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_load_errors")),
    )
    op.create_table(
        "pools",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pools")),
    )
    op.create_table(
        "pool_leases",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("pool", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool"],
            ["pools.name"],
            name=op.f("fk_pool_leases_pool_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "node", name=op.f("pk_pool_leases")),
    )
    op.create_index(op.f("ix_pool_leases_pool"), "pool_leases", ["pool"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("node", sa.String(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_kind"), "alerts", ["kind"])
    op.create_index(op.f("ix_alerts_run_id"), "alerts", ["run_id"])
    op.create_index(op.f("ix_alerts_created_at"), "alerts", ["created_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("pool_leases")
    op.drop_table("pools")
    op.drop_table("load_errors")
    op.drop_table("pipelines")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(batch.f("uq_runs_claim_key"), type_="unique")
        batch.drop_index(batch.f("ix_runs_scheduled_for"))
        batch.drop_column("claim_key")
        batch.drop_column("source")
        batch.drop_column("scheduled_for")
