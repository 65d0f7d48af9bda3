"""The unit of work and the engines: transactions that hold under concurrent use."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from studio.adapters.db import Database
from studio.adapters.db.models import User
from tests.support.builders import new_user


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    db: Database = request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "postgres_db")
    return db


def test_leaving_without_commit_rolls_back(database: Database) -> None:
    with database.uow() as uow:
        uow.users.add(User(email="gone@example.org", username="gone", name="Gone"))
    with database.uow() as uow:
        assert uow.users.get_by_email("gone@example.org") is None


def _fail_half_way(database: Database) -> None:
    with database.uow() as uow:
        uow.users.add(User(email="oops@example.org", username="oops", name="Oops"))
        raise RuntimeError("the service failed half way")


def test_an_error_inside_rolls_back(database: Database) -> None:
    with pytest.raises(RuntimeError):
        _fail_half_way(database)
    with database.uow() as uow:
        assert uow.users.get_by_email("oops@example.org") is None


def test_emails_are_found_whatever_their_case(database: Database) -> None:
    user_id = new_user(database, verified=False)
    with database.uow() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        assert uow.users.get_by_email(f"  {user.email.upper()} ") is not None


def test_concurrent_writers_on_the_embedded_database_neither_fail_nor_lose_updates(
    sqlite_db: Database,
) -> None:
    """Job threads and page runs share one SQLite file: each transaction takes the write lock up front."""
    user_id = new_user(sqlite_db, verified=False)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with sqlite_db.uow() as uow:
                    user = uow.users.get(user_id)
                    assert user is not None
                    user.credit_balance += 1  # read, then write: a lost update if transactions interleaved
                    uow.commit()
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite_db.engine.connect() as connection:
        balance = connection.scalar(
            sa.text("SELECT credit_balance FROM users WHERE id = :id"), {"id": user_id.hex}
        )
    assert balance == 8 * 25
