"""The generation pipeline: the person's request, the provider's result and a worker heartbeat per job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.add_column(sa.Column("request", JSON, server_default="{}", nullable=False))
        batch.add_column(sa.Column("result", JSON, nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_generation_jobs_status_heartbeat_at"), ["status", "heartbeat_at"])


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.drop_index(batch.f("ix_generation_jobs_status_heartbeat_at"))
        batch.drop_column("heartbeat_at")
        batch.drop_column("result")
        batch.drop_column("request")
