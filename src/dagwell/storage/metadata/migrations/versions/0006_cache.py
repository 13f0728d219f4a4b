"""Cache keys of task runs, so an identical call can take an earlier run's outputs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("cache_key", sa.String(), nullable=True))
        batch.add_column(sa.Column("cache_parts", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("cached_from", sa.String(), nullable=True))
        batch.create_index(batch.f("ix_task_runs_task_cache_key"), ["task", "cache_key"])


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_index(batch.f("ix_task_runs_task_cache_key"))
        batch.drop_column("cached_from")
        batch.drop_column("cache_parts")
        batch.drop_column("cache_key")
