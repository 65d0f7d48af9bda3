"""Repositories: the queries services use, on the session of one unit of work. They never commit."""

from __future__ import annotations

import uuid
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import User


class Users(Protocol):
    def get(self, user_id: uuid.UUID) -> User | None: ...

    def get_by_email(self, email: str) -> User | None: ...

    def get_by_username(self, username: str) -> User | None: ...

    def get_by_login(self, login: str) -> User | None: ...

    def add(self, user: User) -> None: ...


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.session.get(User, user_id)

    def get_by_email(self, email: str) -> User | None:
        return self.session.scalar(sa.select(User).where(User.email == email.strip().lower()))

    def get_by_username(self, username: str) -> User | None:
        return self.session.scalar(sa.select(User).where(User.username == username.strip().lower()))

    def get_by_login(self, login: str) -> User | None:
        """By email when it looks like one, else by username (both are unique and indexed)."""
        return self.get_by_email(login) if "@" in login else self.get_by_username(login)

    def add(self, user: User) -> None:
        self.session.add(user)
        self.session.flush()
