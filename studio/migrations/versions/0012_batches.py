"""Batches and the fair queue: the batches table; on each job its batch row, when the fair queue let it go
to a worker (its deadline starts then), and the fallback model it reruns on once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("images", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("fallback_endpoint", sa.String(200), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_batches_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("owner_id", "idempotency_key", name=op.f("uq_batches_owner_id_idempotency_key")),
    )
    op.create_index(op.f("ix_batches_owner_id_created_at"), "batches", ["owner_id", "created_at"])
    with op.batch_alter_table("generation_jobs", recreate="never") as batch:
        batch.add_column(sa.Column("batch_row", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("fallback_endpoint", sa.String(200), nullable=True))
        batch.add_column(sa.Column("fallback_of_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_index(batch.f("ix_generation_jobs_batch_id"))
        batch.create_index(batch.f("ix_generation_jobs_batch_id_batch_row"), ["batch_id", "batch_row"])
        batch.create_index(batch.f("ix_generation_jobs_status_dispatched_at"), ["status", "dispatched_at"])
        batch.create_index(
            batch.f("ix_generation_jobs_owner_id_dispatched_at"), ["owner_id", "dispatched_at"]
        )
    # Every job that exists already went to a worker when it was made.
    op.execute("UPDATE generation_jobs SET dispatched_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs", recreate="never") as batch:
        batch.drop_index(batch.f("ix_generation_jobs_owner_id_dispatched_at"))
        batch.drop_index(batch.f("ix_generation_jobs_status_dispatched_at"))
        batch.drop_index(batch.f("ix_generation_jobs_batch_id_batch_row"))
        batch.create_index(batch.f("ix_generation_jobs_batch_id"), ["batch_id"])
        batch.drop_column("dispatched_at")
        batch.drop_column("fallback_of_id")
        batch.drop_column("fallback_endpoint")
        batch.drop_column("batch_row")
    op.drop_index(op.f("ix_batches_owner_id_created_at"), table_name="batches")
    op.drop_table("batches")
