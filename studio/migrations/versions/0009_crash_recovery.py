"""Crash recovery and repeated clicks: when a worker began sending a job to the provider (a request may
exist from then on, before its id is stored), and a fingerprint of the submitted form (the same form sent
again within seconds is the same job).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.add_column(sa.Column("submitting_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))
        batch.create_index(
            batch.f("ix_generation_jobs_owner_id_fingerprint_created_at"),
            ["owner_id", "fingerprint", "created_at"],
        )


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.drop_index(batch.f("ix_generation_jobs_owner_id_fingerprint_created_at"))
        batch.drop_column("fingerprint")
        batch.drop_column("submitting_at")
