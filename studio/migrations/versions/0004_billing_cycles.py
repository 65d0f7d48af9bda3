"""Billing cycles: the day of the month a subscription renews on, and an index to find due renewals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(
            sa.Column("billing_anchor_day", sa.SmallInteger(), server_default="1", nullable=False)
        )
        batch.create_index(batch.f("ix_subscriptions_current_period_end"), ["current_period_end"])


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index(batch.f("ix_subscriptions_current_period_end"))
        batch.drop_column("billing_anchor_day")
