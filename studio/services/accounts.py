"""Accounts: who is signed in."""

from __future__ import annotations

import uuid

from studio.adapters.db import UnitOfWork
from studio.adapters.db.models import User
from studio.domain.accounts import Account, Role


def to_account(user: User) -> Account:
    return Account(
        id=user.id,
        email=user.email,
        username=user.username,
        name=user.name,
        role=Role(user.role),
        created_at=user.created_at,
    )


def get_account(uow: UnitOfWork, user_id: uuid.UUID) -> Account | None:
    """The account behind a signed-in session, or None when it is gone, disabled or deleted."""
    with uow:
        user = uow.users.get(user_id)
        if user is None or user.disabled_at is not None or user.deleted_at is not None:
            return None
        return to_account(user)
