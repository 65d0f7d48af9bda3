"""The library: prompt search (PostgreSQL tsvector + GIN, SQLite FTS5 kept in sync by triggers) and the
indexes the gallery's sort orders and aspect filter page over.

These objects are expressions, virtual tables and triggers that the models cannot declare on both databases;
`studio.adapters.db.migrate.SCHEMA_OUTSIDE_MODELS` names them so the models-vs-migrations check skips them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keyset orders: rating (unrated counts as 0) newest first within a rating; model A-Z newest first within.
# The aspect-ratio filter: an index on the same expression the gallery filters on, so it is read in order,
# and so PostgreSQL keeps statistics on it (a bare `width = height` is always guessed at 0.5 %).
_INDEXES = (
    "CREATE INDEX ix_images_owner_rating ON images (owner_id, (coalesce(rating, 0)), created_at, id)",
    "CREATE INDEX ix_images_owner_model ON images (owner_id, model_endpoint, created_at DESC, id DESC)",
    "CREATE INDEX ix_images_owner_aspect ON images (owner_id, (CASE WHEN width > height THEN 'landscape'"
    " WHEN width < height THEN 'portrait' ELSE 'square' END), created_at, id)",
)

_SQLITE_FTS = (
    # External content: the prompts live once, in images; the index follows it by rowid.
    "CREATE VIRTUAL TABLE images_fts USING fts5(prompt, content='images', content_rowid='rowid',"
    " tokenize='porter unicode61')",
    "CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN"
    " INSERT INTO images_fts(rowid, prompt) VALUES (new.rowid, new.prompt); END",
    "CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN"
    " INSERT INTO images_fts(images_fts, rowid, prompt) VALUES ('delete', old.rowid, old.prompt); END",
    "CREATE TRIGGER images_fts_update AFTER UPDATE OF prompt ON images BEGIN"
    " INSERT INTO images_fts(images_fts, rowid, prompt) VALUES ('delete', old.rowid, old.prompt);"
    " INSERT INTO images_fts(rowid, prompt) VALUES (new.rowid, new.prompt); END",
    "INSERT INTO images_fts(images_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    for statement in _INDEXES:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        # btree_gin puts the owner in the same GIN index as the words: a search reads the owner's matches
        # only, not every account's (it ships with PostgreSQL and is a trusted extension since 13).
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute(
            "CREATE INDEX ix_images_prompt_fts ON images USING gin (owner_id, to_tsvector('english', prompt))"
        )
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_images_prompt_fts")
    else:
        for trigger in ("images_fts_insert", "images_fts_delete", "images_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE images_fts")
    op.execute("DROP INDEX ix_images_owner_aspect")
    op.execute("DROP INDEX ix_images_owner_model")
    op.execute("DROP INDEX ix_images_owner_rating")
