"""Dataset versions and which runs read them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("snapshot_hash", sa.String(), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uri", "version", name=op.f("pk_dataset_versions")),
    )
    op.create_table(
        "run_datasets",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "node"],
            ["task_runs.run_id", "task_runs.node"],
            name=op.f("fk_run_datasets_run_id_node_task_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uri", "version"],
            ["dataset_versions.uri", "dataset_versions.version"],
            name=op.f("fk_run_datasets_uri_version_dataset_versions"),
        ),
        sa.PrimaryKeyConstraint("run_id", "node", "uri", name=op.f("pk_run_datasets")),
    )
    op.create_index(op.f("ix_run_datasets_uri_version"), "run_datasets", ["uri", "version"])


def downgrade() -> None:
    op.drop_index(op.f("ix_run_datasets_uri_version"), table_name="run_datasets")
    op.drop_table("run_datasets")
    op.drop_table("dataset_versions")
