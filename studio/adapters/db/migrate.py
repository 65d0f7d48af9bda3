"""Apply the Alembic migrations in `studio/migrations` from code (the app and worker do it on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

#: Schema objects only the migrations declare (expression indexes, SQLite's FTS5 table and its shadow tables),
#: because the models cannot declare them on both databases; comparisons with the models skip them.
SCHEMA_OUTSIDE_MODELS = (
    "ix_images_prompt_fts", "ix_images_owner_rating", "ix_images_owner_model", "ix_images_owner_aspect",
    "ix_prompts_fts", "ix_prompts_public_fts",
)  # fmt: skip
FTS_TABLES = ("images_fts", "prompts_fts")


def outside_models(name: str | None, type_: str) -> bool:
    """True for the objects of SCHEMA_OUTSIDE_MODELS and the FTS5 tables (Alembic's include_name, negated)."""
    if name is None:
        return False
    if type_ == "table":
        return any(name == table or name.startswith(f"{table}_") for table in FTS_TABLES)
    return type_ == "index" and name in SCHEMA_OUTSIDE_MODELS


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    return not outside_models(name, type_)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; safe to run from several processes at once on PostgreSQL."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
