"""The prompt library: prompts filed by category and tags, favourite, public; wildcard lists; style
modifiers (the studio's and each user's); named generation presets; and search over titles and prompts
(PostgreSQL tsvector + GIN, SQLite FTS5 kept in sync by triggers, as for images).

The old unique (owner, text hash) goes: a library may hold the same text twice (a duplicate to edit).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NOW = sa.func.now()

_DELETE_OLD = (
    " INSERT INTO prompts_fts(prompts_fts, rowid, title, text)"
    " VALUES ('delete', old.rowid, old.title, old.text);"
)
_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE prompts_fts USING fts5(title, text, content='prompts', content_rowid='rowid',"
    " tokenize='porter unicode61')",
    "CREATE TRIGGER prompts_fts_insert AFTER INSERT ON prompts BEGIN"
    " INSERT INTO prompts_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
    f"CREATE TRIGGER prompts_fts_delete AFTER DELETE ON prompts BEGIN{_DELETE_OLD} END",
    f"CREATE TRIGGER prompts_fts_update AFTER UPDATE OF title, text ON prompts BEGIN{_DELETE_OLD}"  # noqa: S608
    " INSERT INTO prompts_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
    "INSERT INTO prompts_fts(prompts_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    with op.batch_alter_table("prompts") as batch:
        batch.drop_constraint("uq_prompts_owner_id_text_hash", type_="unique")
        batch.add_column(sa.Column("category", sa.String(64), server_default="", nullable=False))
        batch.add_column(sa.Column("tags", JSON, server_default="[]", nullable=False))
        batch.add_column(sa.Column("is_public", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unpublished_by", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False)
        )
        batch.alter_column("use_count", server_default="0")
        batch.alter_column("last_used_at", nullable=True, server_default=None)
        batch.create_index(batch.f("ix_prompts_owner_id_updated_at"), ["owner_id", "updated_at"])
        batch.create_index(batch.f("ix_prompts_is_public_published_at"), ["is_public", "published_at"])
    op.create_table(
        "wildcard_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("entries", JSON, server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_wildcard_lists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wildcard_lists")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_wildcard_lists_owner_id_name")),
    )
    op.create_table(
        "style_modifiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(64), server_default="", nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_style_modifiers_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_style_modifiers")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_style_modifiers_owner_id_name")),
    )
    op.create_index(
        op.f("ix_style_modifiers_owner_id_sort_order"), "style_modifiers", ["owner_id", "sort_order"]
    )
    op.create_table(
        "presets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_presets_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presets")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_presets_owner_id_name")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_prompts_fts ON prompts USING gin "
            "(owner_id, to_tsvector('english', coalesce(title, '') || ' ' || text))"
        )
        op.execute(
            "CREATE INDEX ix_prompts_public_fts ON prompts USING gin "
            "(to_tsvector('english', coalesce(title, '') || ' ' || text)) WHERE is_public"
        )
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_prompts_public_fts")
        op.execute("DROP INDEX ix_prompts_fts")
    else:
        for trigger in ("prompts_fts_insert", "prompts_fts_delete", "prompts_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE prompts_fts")
    op.drop_table("presets")
    op.drop_index(op.f("ix_style_modifiers_owner_id_sort_order"), table_name="style_modifiers")
    op.drop_table("style_modifiers")
    op.drop_table("wildcard_lists")
    with op.batch_alter_table("prompts") as batch:
        batch.drop_index(batch.f("ix_prompts_is_public_published_at"))
        batch.drop_index(batch.f("ix_prompts_owner_id_updated_at"))
        batch.alter_column("last_used_at", nullable=False, server_default=_NOW)
        batch.alter_column("use_count", server_default="1")
        batch.drop_column("updated_at")
        batch.drop_column("unpublished_by")
        batch.drop_column("published_at")
        batch.drop_column("is_public")
        batch.drop_column("tags")
        batch.drop_column("category")
        batch.create_unique_constraint("uq_prompts_owner_id_text_hash", ["owner_id", "text_hash"])
