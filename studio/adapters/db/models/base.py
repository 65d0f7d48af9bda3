"""The declarative base, column helpers and the value sets that CHECK constraints enforce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from studio.adapters.db.types import NAMING_CONVENTION, JSONType, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


ROLES = ("user", "admin")
TOKEN_PURPOSES = ("verify_email", "reset_password", "change_email")
EXPORT_STATUSES = ("pending", "ready", "failed")
JOB_STATUSES = ("queued", "submitted", "running", "succeeded", "failed", "cancelled")
LEDGER_KINDS = ("grant", "reserve", "settle", "refund", "adjust", "expire")
SHARE_TARGETS = ("image", "project", "collection")
PRICE_UNITS = ("image", "megapixel", "second")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def id_column() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


def created_column() -> Mapped[datetime]:
    return mapped_column(default=utcnow, server_default=sa.func.now())


def updated_column() -> Mapped[datetime]:
    return mapped_column(default=utcnow, onupdate=utcnow, server_default=sa.func.now())


def owner_column(ondelete: str = "CASCADE") -> Mapped[uuid.UUID]:
    return mapped_column(sa.ForeignKey("users.id", ondelete=ondelete))
