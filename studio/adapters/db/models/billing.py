"""Plans, subscriptions, the credit ledger and Stripe events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from studio.adapters.db.models.base import (
    LEDGER_KINDS,
    Base,
    created_column,
    id_column,
    one_of,
    updated_column,
)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        sa.CheckConstraint("monthly_credits >= 0", name="monthly_credits_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    monthly_credits: Mapped[int]
    price_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd", server_default="usd")
    stripe_price_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class Subscription(Base):
    """The current plan of one user and its billing cycle (free plans have a cycle too)."""

    __tablename__ = "subscriptions"
    __table_args__ = (sa.Index(None, "current_period_end"),)

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(sa.String(24), default="active", server_default="active")
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    # The day of the month cycles renew on (a cycle begun on the 31st renews on the last day of short months).
    billing_anchor_day: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    payment_failed_at: Mapped[datetime | None]
    usage_alert_level: Mapped[int] = mapped_column(
        default=0, server_default="0"
    )  # % already mailed this cycle
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class CreditLedger(Base):
    """Append-only: rows are inserted, never updated or deleted. The balance is their sum."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", LEDGER_KINDS), name="kind"),
        sa.CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        sa.Index(None, "user_id", "created_at"),
        sa.Index(None, "job_id"),
        # Plan grants per day, for the admin revenue figures: read from the index alone.
        sa.Index(None, "kind", "ref_type", "created_at", "ref_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    delta: Mapped[int]
    balance_after: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(200))
    ref_type: Mapped[str | None] = mapped_column(sa.String(32))  # job, stripe_event, admin, plan ...
    ref_id: Mapped[str | None] = mapped_column(sa.String(128))
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("generation_jobs.id", ondelete="SET NULL"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Makes "exactly once" a database rule: e.g. one refund per job, one grant per invoice.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = created_column()


class StripeEvent(Base):
    """Every webhook event received, recorded under Stripe's id before it is handled."""

    __tablename__ = "stripe_events"
    __table_args__ = (sa.Index(None, "type", "received_at"),)

    id: Mapped[uuid.UUID] = id_column()
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    livemode: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = created_column()
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


class CheckoutSession(Base):
    """One upgrade started by a user: our row first, so the Stripe call's idempotency key is its id."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (sa.Index(None, "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plans.id"))
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    url: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = created_column()
    completed_at: Mapped[datetime | None]
