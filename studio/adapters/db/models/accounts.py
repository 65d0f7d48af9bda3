"""Accounts: users, their settings, one-time mail tokens, API keys and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from studio.adapters.db.models.base import (
    EXPORT_STATUSES,
    ROLES,
    TOKEN_PURPOSES,
    Base,
    created_column,
    id_column,
    one_of,
    owner_column,
    updated_column,
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(one_of("role", ROLES), name="role"),
        sa.CheckConstraint("credit_balance >= 0", name="credit_balance_not_negative"),
        sa.Index(None, "created_at"),
        sa.Index("ix_users_name_lower", sa.text("lower(name)")),  # the admin search by name prefix
    )

    id: Mapped[uuid.UUID] = id_column()
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # stored lower-case
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))  # None: signs in through OIDC only
    role: Mapped[str] = mapped_column(sa.String(16), default="user", server_default="user")
    email_verified_at: Mapped[datetime | None]
    # Bumped to revoke every session of the user (sign out everywhere, password change, disable).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When session_version was last bumped: a session cookie issued before this is refused.
    sessions_valid_from: Mapped[datetime | None]
    # A cache of the ledger sum, changed only in the same transaction as a ledger row.
    credit_balance: Mapped[int] = mapped_column(default=0, server_default="0")
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    avatar_key: Mapped[str | None] = mapped_column(sa.String(512))
    totp_secret: Mapped[str | None] = mapped_column(sa.String(128))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)  # the last accepted code's time step
    recovery_codes: Mapped[list[Any] | None]  # hashes of unused two-factor recovery codes
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(sa.String(16), default="system", server_default="system")
    default_model: Mapped[str | None] = mapped_column(sa.String(200))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    email_notifications: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    updated_at: Mapped[datetime] = updated_column()


class EmailToken(Base):
    """A one-time link sent by mail; only a hash of the token is stored."""

    __tablename__ = "email_tokens"
    __table_args__ = (
        sa.CheckConstraint(one_of("purpose", TOKEN_PURPOSES), name="purpose"),
        sa.Index(None, "user_id", "purpose"),
    )

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = owner_column()
    purpose: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))  # the address being verified
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class DataExport(Base):
    """A person's "export my data" request: a job builds the ZIP and stores it under `object_key`."""

    __tablename__ = "data_exports"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", EXPORT_STATUSES), name="status"),
        sa.Index(None, "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = owner_column()
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    object_key: Mapped[str | None] = mapped_column(sa.String(512))
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (sa.Index(None, "user_id"),)

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)  # shown to the user, used for lookup
    key_hash: Mapped[str] = mapped_column(sa.String(128))
    scopes: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class AuditLog(Base):
    """Every admin action: who, what, before, after, when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index(None, "created_at"),
        sa.Index(None, "actor_id", "created_at"),
        sa.Index(None, "target_type", "target_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = created_column()
