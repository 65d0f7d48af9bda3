"""The query pieces the analytics services share: calendar days on PostgreSQL and on SQLite."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def day_of(session: Session, column: Any) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a timestamp column (a date on PostgreSQL, 'YYYY-MM-DD' on SQLite)."""
    if is_postgres(session):
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)  # SQLite stores UTC already


def as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
