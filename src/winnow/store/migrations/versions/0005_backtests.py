"""Backtest reports, and the one each published spec version was checked with

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("spec_sha", sa.String(length=64), nullable=False),
        sa.Column("against_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_backtests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtests")),
    )
    op.create_index(
        "ix_backtests_workspace_spec", "backtests", ["workspace_id", "spec_sha"], unique=False
    )
    with op.batch_alter_table("spec_versions") as batch:
        batch.add_column(sa.Column("backtest_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spec_versions") as batch:
        batch.drop_column("backtest_id")
    op.drop_index("ix_backtests_workspace_spec", table_name="backtests")
    op.drop_table("backtests")
