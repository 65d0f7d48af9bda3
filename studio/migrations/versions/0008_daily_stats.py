"""Daily roll-ups for the admin analytics: the days summed so far, and their figures per model, outcome and
plan (kept by the hourly job `studio.jobs.roll_up_analytics`); indexes that cover the latency sample and
the plan grants of the revenue figures.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("active_users", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rolled_up_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_daily_rollups")),
    )
    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_endpoint", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("queue_ms_total", sa.BigInteger(), nullable=False),
        sa.Column("queue_ms_count", sa.Integer(), nullable=False),
        sa.Column("run_ms_total", sa.BigInteger(), nullable=False),
        sa.Column("run_ms_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "model_endpoint", "outcome", "plan", name=op.f("pk_daily_stats")),
    )
    op.create_index(
        op.f("ix_usage_logs_model_endpoint_outcome_created_at_run_ms"),
        "usage_logs",
        ["model_endpoint", "outcome", "created_at", "run_ms"],
    )
    # The plan grants of the revenue figures, read from the index alone (it replaces the one on kind, day).
    op.drop_index("ix_credit_ledger_kind_created_at", table_name="credit_ledger")
    op.create_index(
        op.f("ix_credit_ledger_kind_ref_type_created_at_ref_id"),
        "credit_ledger",
        ["kind", "ref_type", "created_at", "ref_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_ledger_kind_ref_type_created_at_ref_id"), table_name="credit_ledger")
    op.create_index("ix_credit_ledger_kind_created_at", "credit_ledger", ["kind", "created_at"])
    op.drop_index(op.f("ix_usage_logs_model_endpoint_outcome_created_at_run_ms"), table_name="usage_logs")
    op.drop_table("daily_stats")
    op.drop_table("daily_rollups")
