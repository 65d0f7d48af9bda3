"""Daily roll-ups of `usage_logs` for the admin analytics, kept by a scheduled job
(studio.services.analytics.rollups).

Derived data: a day's rows are deleted and written again together, never edited, and can be rebuilt at any
time from `usage_logs`.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from studio.adapters.db.models.base import Base, created_column


class DailyRollup(Base):
    """One UTC day whose finished jobs are summed in `daily_stats`, and its distinct active accounts."""

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    active_users: Mapped[int] = mapped_column(default=0, server_default="0")
    rolled_up_at: Mapped[datetime] = created_column()


class DailyStat(Base):
    """The finished jobs of one day, model, outcome and plan (the account's plan when the day was summed,
    "" without one): counts and sums, so any range of days adds up exactly."""

    __tablename__ = "daily_stats"
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    model_endpoint: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    plan: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    jobs: Mapped[int]
    credits: Mapped[int] = mapped_column(sa.BigInteger)
    cost_micros: Mapped[int] = mapped_column(sa.BigInteger)
    queue_ms_total: Mapped[int] = mapped_column(sa.BigInteger)
    queue_ms_count: Mapped[int]
    run_ms_total: Mapped[int] = mapped_column(sa.BigInteger)
    run_ms_count: Mapped[int]
