"""Alembic environment: the same settings as the app, one transaction, locked on PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection, Engine

from studio.adapters.db.engine import create_engine
from studio.adapters.db.migrate import include_name
from studio.adapters.db.models import Base
from studio.settings import Settings

# Any constant works; every process migrating the same database waits on this one lock.
MIGRATION_LOCK_ID = 7_242_001

target_metadata = Base.metadata


def _engine() -> Engine:
    given: Engine | None = context.config.attributes.get("engine")
    if given is not None:
        return given
    url = context.config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url
    return create_engine(url)


def _migrate(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations recreate tables; with foreign keys on, dropping the old copy would cascade.
        # The pragma only takes effect outside a transaction, so it goes straight to the driver.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        include_name=include_name,
    )
    try:
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
            context.run_migrations()
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def run_migrations_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        _migrate(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
