"""The database adapter: engine, unit of work, repositories and migrations."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from studio.adapters.db import migrate
from studio.adapters.db.engine import create_engine, session_factory
from studio.adapters.db.repositories import UserRepository, Users
from studio.errors import StudioError


class SqlUnitOfWork:
    """One transaction on a SQLAlchemy session: `with services.uow() as uow: ...; uow.commit()`; leaving the
    block without commit rolls back. Repositories never commit, the service does."""

    session: Session
    users: Users

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> Self:
        self.session = self._sessions()
        self.users = UserRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    """The database: units of work for services, a health check, migrations on start."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session] | None = None) -> None:
        self.engine = engine
        self.sessions = sessions or session_factory(engine)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    @property
    def backend(self) -> str:
        return "postgres" if self.engine.dialect.name == "postgresql" else self.engine.dialect.name

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)

    def migrate(self) -> None:
        """Apply every pending migration (the app and the worker do this on start)."""
        migrate.upgrade(self.engine)

    def check(self) -> None:
        """Raise unless the database answers and its schema is at the latest migration."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        current, head = migrate.current_revision(self.engine), migrate.head_revision()
        if current != head:
            raise StudioError(f"schema is at revision {current}, expected {head}: run the migrations")

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["Database", "SqlUnitOfWork"]
