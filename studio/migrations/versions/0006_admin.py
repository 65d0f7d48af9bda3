"""Admin and analytics: indexes for the user search by name prefix and the ledger's rows by kind and day.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_name_lower", "users", [sa.text("lower(name)")])
    op.create_index("ix_credit_ledger_kind_created_at", "credit_ledger", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_ledger_kind_created_at", table_name="credit_ledger")
    op.drop_index("ix_users_name_lower", table_name="users")
