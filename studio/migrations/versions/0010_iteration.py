"""Iteration: the mask an image keeps (a background removal's cut-out mask) and the mask a job sent (an
inpainting's drawn mask), so both are shown and erased with their owner's files.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", recreate="never") as batch:  # keeps the search triggers
        batch.add_column(sa.Column("mask_key", sa.String(512), nullable=True))
    with op.batch_alter_table("generation_jobs", recreate="never") as batch:
        batch.add_column(sa.Column("mask_key", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs", recreate="never") as batch:
        batch.drop_column("mask_key")
    with op.batch_alter_table("images", recreate="never") as batch:  # keeps the search triggers
        batch.drop_column("mask_key")
