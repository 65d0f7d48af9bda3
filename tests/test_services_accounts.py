"""Account services: on the in-memory unit of work, and on SQLite where credits are granted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from studio.adapters.db import Database
from studio.adapters.db.models import User
from studio.domain.accounts import Role
from studio.domain.credits import FREE_PLAN_CREDITS
from studio.errors import Forbidden
from studio.services import accounts, credits, dev_accounts
from studio.settings import Settings
from tests.fakes import FakeUnitOfWork


def add_user(uow: FakeUnitOfWork, **fields: object) -> uuid.UUID:
    user = User(email="ada@example.org", username="ada", name="Ada", role="user", **fields)
    uow.users.add(user)
    return user.id


def test_an_active_account_is_found() -> None:
    uow = FakeUnitOfWork()
    user_id = add_user(uow)
    account = accounts.get_account(uow, user_id)
    assert account is not None
    assert (account.email, account.name, account.role) == ("ada@example.org", "Ada", Role.USER)
    assert not account.is_admin


@pytest.mark.parametrize("field", ["disabled_at", "deleted_at"])
def test_disabled_and_deleted_accounts_are_signed_out(field: str) -> None:
    uow = FakeUnitOfWork()
    user_id = add_user(uow, **{field: datetime.now(UTC)})
    assert accounts.get_account(uow, user_id) is None


def test_an_unknown_account_is_none() -> None:
    assert accounts.get_account(FakeUnitOfWork(), uuid.uuid4()) is None


def test_the_demo_accounts_are_created_once_with_their_free_credits(sqlite_db: Database) -> None:
    embedded = Settings(_env_file=None)
    first = dev_accounts.sign_in_demo(sqlite_db.uow(), embedded, Role.ADMIN)
    again = dev_accounts.sign_in_demo(sqlite_db.uow(), embedded, Role.ADMIN)
    user = dev_accounts.sign_in_demo(sqlite_db.uow(), embedded, Role.USER)
    assert first.id == again.id
    assert first.is_admin
    assert not user.is_admin
    with sqlite_db.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
        for account in (first, user):
            assert credits.balance(uow.session, account.id) == FREE_PLAN_CREDITS
            assert credits.ledger_sum(uow.session, account.id) == FREE_PLAN_CREDITS


@pytest.mark.parametrize("overrides", [{"redis_url": "redis://127.0.0.1:6379/0"}, {"dev_sign_in": False}])
def test_the_development_sign_in_is_refused_when_off(overrides: dict[str, Any], sqlite_db: Database) -> None:
    settings = Settings(_env_file=None, **overrides)
    with pytest.raises(Forbidden, match="off"):
        dev_accounts.sign_in_demo(sqlite_db.uow(), settings, Role.ADMIN)
    with sqlite_db.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
