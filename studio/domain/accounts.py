"""Accounts: roles and the read model of a signed-in user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class TokenPurpose(StrEnum):
    """What a one-time email token may be used for."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a password)
    CHANGE_EMAIL = "change_email"


@dataclass(frozen=True)
class Account:
    """A user as pages see it: plain values, no database session attached."""

    id: uuid.UUID
    email: str
    username: str
    name: str
    role: Role
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
