"""Account services on SQLite: which accounts a session finds, and the demo accounts with their credits."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from studio.adapters.db.models import User
from studio.domain.accounts import Role
from studio.domain.credits import FREE_PLAN_CREDITS
from studio.errors import Forbidden
from studio.services.accounts import demo, sessions
from studio.services.billing import ledger
from studio.services.context import Services
from studio.settings import Settings
from tests.support.builders import new_user
from tests.support.services import embedded_settings, installed


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Services]:
    with installed(embedded_settings(tmp_path / "data"), start=False) as services:
        services.database.migrate()
        yield services


def test_an_active_account_is_found(studio: Services) -> None:
    user_id = new_user(studio, "ada", verified=False)
    account = sessions.get_account(studio, user_id)
    assert account is not None
    assert (account.email, account.name, account.role) == ("ada@example.org", "Ada", Role.USER)
    assert not account.is_admin


@pytest.mark.parametrize("field", ["disabled_at", "deleted_at"])
def test_disabled_and_deleted_accounts_are_signed_out(field: str, studio: Services) -> None:
    gone: dict[str, Any] = {field: datetime.now(UTC)}
    user_id = new_user(studio, "ada", verified=False, **gone)
    assert sessions.get_account(studio, user_id) is None


def test_an_unknown_account_is_none(studio: Services) -> None:
    assert sessions.get_account(studio, uuid.uuid4()) is None


def test_the_demo_accounts_are_created_once_with_their_free_credits(studio: Services) -> None:
    first = demo.sign_in_demo(studio, Role.ADMIN)
    again = demo.sign_in_demo(studio, Role.ADMIN)
    user = demo.sign_in_demo(studio, Role.USER)
    assert first.id == again.id
    assert first.is_admin
    assert not user.is_admin
    with studio.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
        for account in (first, user):
            assert ledger.balance(uow.session, account.id) == FREE_PLAN_CREDITS
            assert ledger.ledger_sum(uow.session, account.id) == FREE_PLAN_CREDITS


@pytest.mark.parametrize("overrides", [{"redis_url": "redis://127.0.0.1:6379/0"}, {"dev_sign_in": False}])
def test_the_development_sign_in_is_refused_when_off(overrides: dict[str, Any], studio: Services) -> None:
    refusing = dataclasses.replace(studio, settings=Settings(_env_file=None, **overrides))
    with pytest.raises(Forbidden, match="off"):
        demo.sign_in_demo(refusing, Role.ADMIN)
    with studio.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
