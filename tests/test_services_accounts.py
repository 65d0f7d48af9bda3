"""Account services on the in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from studio.adapters.db.models import User
from studio.domain.accounts import Role
from studio.errors import Forbidden
from studio.services import accounts, dev_accounts
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


def test_the_demo_accounts_are_created_once() -> None:
    uow, embedded = FakeUnitOfWork(), Settings(_env_file=None)
    first = dev_accounts.sign_in_demo(uow, embedded, Role.ADMIN)
    again = dev_accounts.sign_in_demo(uow, embedded, Role.ADMIN)
    user = dev_accounts.sign_in_demo(uow, embedded, Role.USER)
    assert first.id == again.id
    assert first.is_admin
    assert not user.is_admin
    assert len(uow.users.rows) == 2
    assert uow.commits == 3


@pytest.mark.parametrize("overrides", [{"redis_url": "redis://127.0.0.1:6379/0"}, {"dev_sign_in": False}])
def test_the_development_sign_in_is_refused_when_off(overrides: dict[str, Any]) -> None:
    uow, settings = FakeUnitOfWork(), Settings(_env_file=None, **overrides)
    with pytest.raises(Forbidden, match="off"):
        dev_accounts.sign_in_demo(uow, settings, Role.ADMIN)
    assert uow.users.rows == {}
