"""Daily roll-ups of the finished jobs, so the admin analytics add up days instead of scanning them.

The hourly job `studio.jobs.roll_up_analytics` calls `roll_up`. It sums again from `usage_logs`:
- every closed UTC day (before today) since the first finished job that has no roll-up yet;
- yesterday, always (a job that finished just before midnight may commit just after the previous pass);
- any rolled-up day whose number of finished jobs no longer matches `usage_logs` (a row that arrived late,
  an erased account).
A day's `daily_rollups` row and its `daily_stats` rows are deleted and written again in one transaction (on
PostgreSQL under an advisory lock, so two passes never interleave), so a reader sees each day whole, before
or after, and a pass run twice changes nothing. Today is never rolled up: the analytics read it live.

`daily_stats` keep one row per day, model, outcome and plan; the plan is the account's plan when the day was
summed (the current plan for days read live). Distinct active accounts cannot be added across days: each
day's count is kept in `daily_rollups`, a range's is counted live (see studio.services.analytics).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import DailyRollup, DailyStat, Plan, Subscription, UsageLog
from studio.services.analytics.sql import as_date, day_of, is_postgres
from studio.services.context import Services

CHUNK_DAYS = 31  # days summed per transaction
_LOCK_KEY = 0x5D41_7A11  # pg_advisory_xact_lock key of the roll-up pass

#: One span of whole days, as [start, end) moments in UTC.
Span = tuple[datetime, datetime]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def spans(days: Iterable[date]) -> list[Span]:
    """Runs of consecutive days as [start, end) moments, in order."""
    found: list[Span] = []
    for day in sorted(days):
        start = midnight(day)
        if found and found[-1][1] == start:
            found[-1] = (found[-1][0], start + timedelta(days=1))
        else:
            found.append((start, start + timedelta(days=1)))
    return found


def within(spans_: Sequence[Span]) -> sa.ColumnElement[bool]:
    """Usage rows created inside any of these spans (nothing when there are none)."""
    if not spans_:
        return sa.false()
    return sa.or_(
        *(sa.and_(UsageLog.created_at >= start, UsageLog.created_at < end) for start, end in spans_)
    )


def usage_rows(session: Session, where: sa.ColumnElement[bool]) -> sa.Result[Any]:
    """Finished jobs matching `where` summed per day, model, outcome and current plan, in the columns of
    `daily_stats`: day, model_endpoint, outcome, plan (None without one), jobs, credits, cost_micros,
    queue_ms_total, queue_ms_count, run_ms_total, run_ms_count."""
    day = day_of(session, UsageLog.created_at).label("day")
    plans = (
        sa.select(Subscription.user_id, Plan.code.label("plan"))
        .join(Plan, Plan.id == Subscription.plan_id)
        .subquery()
    )
    return session.execute(
        sa.select(
            day,
            UsageLog.model_endpoint,
            UsageLog.outcome,
            plans.c.plan,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(UsageLog.credits), 0),
            sa.func.coalesce(sa.func.sum(UsageLog.provider_cost_micros), 0),
            sa.func.coalesce(sa.func.sum(UsageLog.queue_wait_ms), 0),
            sa.func.count(UsageLog.queue_wait_ms),
            sa.func.coalesce(sa.func.sum(UsageLog.run_ms), 0),
            sa.func.count(UsageLog.run_ms),
        )
        .outerjoin(plans, plans.c.user_id == UsageLog.user_id)
        .where(where)
        .group_by(day, UsageLog.model_endpoint, UsageLog.outcome, plans.c.plan)
    )


def active_users_by_day(session: Session, where: sa.ColumnElement[bool]) -> dict[date, int]:
    """Distinct accounts with a finished job matching `where`, per day."""
    day = day_of(session, UsageLog.created_at).label("day")
    pairs = sa.select(day, UsageLog.user_id).where(where).distinct().subquery()
    rows = session.execute(sa.select(pairs.c.day, sa.func.count()).group_by(pairs.c.day))
    return {as_date(when): int(users) for when, users in rows}


def roll_up(services: Services, now: datetime | None = None) -> list[date]:
    """Sum every day that needs it (see the module docstring); the days summed, in order."""
    today = (now or datetime.now(UTC)).date()
    with services.uow() as uow:
        due = _due(uow.session, today)
    for start in range(0, len(due), CHUNK_DAYS):
        chunk = due[start : start + CHUNK_DAYS]
        with services.uow() as uow:
            _sum_days(uow.session, chunk)
            uow.commit()
    return due


def _due(session: Session, today: date) -> list[date]:
    yesterday = today - timedelta(days=1)
    day = day_of(session, UsageLog.created_at)
    live: dict[date, int] = {
        as_date(when): int(jobs)
        for when, jobs in session.execute(
            sa.select(day, sa.func.count()).where(UsageLog.created_at < midnight(today)).group_by(day)
        )
    }
    summed = {as_date(when): 0 for when in session.scalars(sa.select(DailyRollup.day))}
    for when, jobs in session.execute(
        sa.select(DailyStat.day, sa.func.sum(DailyStat.jobs)).group_by(DailyStat.day)
    ):
        summed[as_date(when)] = int(jobs)
    if not live and not summed:
        return []
    first = min([*live, *summed, yesterday])  # a summed day whose jobs are all gone is summed again too
    closed = [first + timedelta(days=n) for n in range((yesterday - first).days + 1)]
    return [d for d in closed if d == yesterday or d not in summed or summed[d] != live.get(d, 0)]


def _sum_days(session: Session, days: list[date]) -> None:
    """Delete and write again the roll-up of `days`, in the caller's transaction."""
    if is_postgres(session):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
    session.execute(sa.delete(DailyStat).where(DailyStat.day.in_(days)))
    session.execute(sa.delete(DailyRollup).where(DailyRollup.day.in_(days)))
    where = within(spans(days))
    stats = [
        {
            "day": as_date(when),
            "model_endpoint": endpoint,
            "outcome": outcome,
            "plan": plan or "",
            "jobs": jobs,
            "credits": int(credits),
            "cost_micros": int(cost),
            "queue_ms_total": int(q_sum),
            "queue_ms_count": q_count,
            "run_ms_total": int(r_sum),
            "run_ms_count": r_count,
        }
        for when, endpoint, outcome, plan, jobs, credits, cost, q_sum, q_count, r_sum, r_count in usage_rows(
            session, where
        )
    ]
    active = active_users_by_day(session, where)
    session.execute(
        sa.insert(DailyRollup), [{"day": day, "active_users": active.get(day, 0)} for day in days]
    )
    if stats:
        session.execute(sa.insert(DailyStat), stats)
