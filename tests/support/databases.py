"""Throwaway PostgreSQL databases for the tests and the benchmarks, and transactions rolled back per test
(importing this has no side effects)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from studio.adapters.db import Database


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random> on the server of `admin_url`, dropped when the block ends."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def scratch_postgres() -> AbstractContextManager[str]:
    """A new, empty PostgreSQL database of the tests' server for as long as the block runs."""
    return scratch_database(POSTGRES_ADMIN_URL, "studio_test")


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Database]:
    """The database inside one transaction that is rolled back at the end; commits become savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield Database(engine, sessions)
    outer.rollback()
    connection.close()
