"""Admin analytics over a range of days: activity, revenue against provider cost, failures and latency.

Job figures add up daily roll-ups (studio.services.analytics.rollups, kept by an hourly job): every day of
the range that has been rolled up is read from `daily_rollups` / `daily_stats` in one statement, and only
the others (today, or days the job has not reached yet) from `usage_logs` live, with the same grouping, so
the figures are those of `usage_logs`. Without any roll-up, everything is read live.
`bench/admin_analytics.py` keeps the service well under 2 s over a million jobs and a whole year on
PostgreSQL.
- `usage_logs`, one row per finished job: outcome, credits, provider cost (catalogue price × billable
  output, 0 for demo images), queue wait and run time;
- active accounts: per day, kept in the roll-up (or counted live); over the range, counted live with one
  probe of the (user_id, created_at) index per account (distinct accounts do not add up over days);
- revenue from two sources, shown apart: Stripe invoices (`invoice.paid` / `invoice.payment_succeeded`
  events, their `amount_paid`), and paid plans an admin assigned (the plan's price for each cycle started,
  read from the ledger's grant rows, summed per day and plan; no payment is taken for those, so it is an
  estimate).
Plans are each account's current plan for the days read live, and its plan when the day was rolled up for the
others (within the hour after the day ended). Percentiles are over the newest LATENCY_SAMPLE succeeded jobs
of each model in the range (an index covers them): `percentile_cont` on PostgreSQL, the same
interpolation in Python on SQLite.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import (
    CreditLedger,
    DailyRollup,
    DailyStat,
    Plan,
    StripeEvent,
    Subscription,
    UsageLog,
    User,
)
from studio.domain.analytics import DateRange, gross_margin, percentile, rate
from studio.domain.catalogue import BY_ENDPOINT
from studio.services.analytics.rollups import Span, active_users_by_day, spans, usage_rows, within
from studio.services.analytics.sql import as_date, day_of, is_postgres
from studio.services.audit import check_admin
from studio.services.context import Services

INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
LATENCY_SAMPLE = 20_000
NO_PLAN = "no plan"


@dataclass
class DayFigures:
    day: date
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    active_users: int = 0
    credits: int = 0
    cost_micros: int = 0
    revenue_cents: int = 0


@dataclass
class ModelFigures:
    endpoint: str
    name: str
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    credits: int = 0
    cost_micros: int = 0
    queue_ms_total: int = 0
    queue_ms_count: int = 0
    run_ms_total: int = 0
    run_ms_count: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def success_rate(self) -> float | None:
        return rate(self.succeeded, self.jobs)

    @property
    def avg_queue_ms(self) -> float | None:
        return self.queue_ms_total / self.queue_ms_count if self.queue_ms_count else None

    @property
    def avg_run_ms(self) -> float | None:
        return self.run_ms_total / self.run_ms_count if self.run_ms_count else None


@dataclass
class PlanFigures:
    plan: str
    jobs: int = 0
    credits: int = 0
    cost_micros: int = 0
    revenue_cents: int = 0

    @property
    def margin(self) -> float | None:
        return gross_margin(self.revenue_cents, self.cost_micros)


@dataclass
class AdminAnalytics:
    days: DateRange
    active_users: int = 0
    new_users: int = 0
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    credits: int = 0
    cost_micros: int = 0
    stripe_revenue_cents: int = 0
    assigned_revenue_cents: int = 0
    per_day: list[DayFigures] = field(default_factory=list)
    per_model: list[ModelFigures] = field(default_factory=list)
    per_plan: list[PlanFigures] = field(default_factory=list)

    @property
    def revenue_cents(self) -> int:
        return self.stripe_revenue_cents + self.assigned_revenue_cents

    @property
    def margin(self) -> float | None:
        return gross_margin(self.revenue_cents, self.cost_micros)

    @property
    def failure_rate(self) -> float | None:
        return rate(self.failed, self.jobs)

    @property
    def refund_rate(self) -> float | None:
        """Finished jobs whose credits went back (failed or cancelled), over every finished job."""
        return rate(self.failed + self.cancelled, self.jobs)


def admin_analytics(services: Services, actor_id: uuid.UUID, days: DateRange) -> AdminAnalytics:
    """Every figure of the admin analytics page for `days`."""
    with services.uow() as uow:
        session = uow.session
        check_admin(session, actor_id)
        if is_postgres(session):  # room for the live days' hash tables and sorts, for this transaction only
            session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        found = AdminAnalytics(days, per_day=[DayFigures(day) for day in days.days])
        live = _jobs(session, days, found)
        _active_users(session, days, live, found)
        _revenue(session, days, found)
        _latency(session, days, found)
        found.new_users = int(
            session.scalar(
                sa.select(sa.func.count()).where(User.created_at >= days.start, User.created_at < days.end)
            )
            or 0
        )
    return found


def _in(days: DateRange) -> sa.ColumnElement[bool]:
    return sa.and_(UsageLog.created_at >= days.start, UsageLog.created_at < days.end)


def _jobs(session: Session, days: DateRange, found: AdminAnalytics) -> list[Span]:
    """Add up the rolled-up days of the range and the others live; the spans read live."""
    by_day = {figures.day: figures for figures in found.per_day}
    # One statement, so the days it finds rolled up and their figures come from one snapshot of a pass.
    rolled = session.execute(
        sa.select(
            DailyRollup.day,
            DailyRollup.active_users,
            DailyStat.model_endpoint,
            DailyStat.outcome,
            DailyStat.plan,
            DailyStat.jobs,
            DailyStat.credits,
            DailyStat.cost_micros,
            DailyStat.queue_ms_total,
            DailyStat.queue_ms_count,
            DailyStat.run_ms_total,
            DailyStat.run_ms_count,
        )
        .outerjoin(DailyStat, DailyStat.day == DailyRollup.day)
        .where(DailyRollup.day >= days.first, DailyRollup.day <= days.last)
    )
    rows: list[tuple[Any, ...]] = []
    summed: set[date] = set()
    for when, active, *stats in rolled:
        target = by_day[as_date(when)]
        target.active_users = active
        summed.add(target.day)
        if stats[0] is not None:
            rows.append((target.day, *stats))
    live = spans(day for day in days.days if day not in summed)
    if live:
        rows.extend(tuple(row) for row in usage_rows(session, within(live)))
    _add(rows, by_day, found)
    return live


def _add(rows: list[tuple[Any, ...]], by_day: dict[date, DayFigures], found: AdminAnalytics) -> None:
    models: dict[str, ModelFigures] = {}
    plans_found: dict[str, PlanFigures] = {}
    for when, endpoint, outcome, plan, jobs, credits, cost, q_sum, q_count, r_sum, r_count in rows:
        credits, cost = int(credits or 0), int(cost or 0)
        spec = BY_ENDPOINT.get(endpoint)
        model = models.setdefault(endpoint, ModelFigures(endpoint, spec.name if spec else endpoint))
        per_plan = plans_found.setdefault(plan or NO_PLAN, PlanFigures(plan or NO_PLAN))
        target = by_day[as_date(when)]
        for figures in (found, model, target):
            figures.jobs += jobs
            figures.credits += credits
            figures.cost_micros += cost
            if outcome == "succeeded":
                figures.succeeded += jobs
            elif outcome == "failed":
                figures.failed += jobs
        if outcome == "cancelled":
            found.cancelled += jobs
            model.cancelled += jobs
        per_plan.jobs += jobs
        per_plan.credits += credits
        per_plan.cost_micros += cost
        model.queue_ms_total += int(q_sum or 0)
        model.queue_ms_count += q_count
        model.run_ms_total += int(r_sum or 0)
        model.run_ms_count += r_count
    found.per_model = sorted(models.values(), key=lambda m: (-m.jobs, m.name))
    found.per_plan = list(plans_found.values())


def _active_users(session: Session, days: DateRange, live: list[Span], found: AdminAnalytics) -> None:
    """Per day: rolled up, or counted live; over the range, counted (accounts are not additive over days)."""
    if live:
        by_day = {figures.day: figures for figures in found.per_day}
        for when, users in active_users_by_day(session, within(live)).items():
            by_day[when].active_users = users
    # One probe of the (user_id, created_at) index per account: cheaper than a distinct over every job.
    ran = sa.exists().where(UsageLog.user_id == User.id, _in(days))
    found.active_users = int(session.scalar(sa.select(sa.func.count()).select_from(User).where(ran)) or 0)


def _revenue(session: Session, days: DateRange, found: AdminAnalytics) -> None:
    by_day = {figures.day: figures for figures in found.per_day}
    plans = {figures.plan: figures for figures in found.per_plan}

    def book(plan: str, when: date, cents: int) -> None:
        by_day[when].revenue_cents += cents
        plans.setdefault(plan, PlanFigures(plan)).revenue_cents += cents

    # Paid plans assigned by an admin: one grant row per cycle started, at the plan's price.
    day = day_of(session, CreditLedger.created_at).label("day")
    assigned = session.execute(
        sa.select(day, Plan.code, sa.func.sum(Plan.price_cents))
        .join(Plan, Plan.code == CreditLedger.ref_id)
        .where(
            CreditLedger.kind == "grant",
            CreditLedger.ref_type == "plan",
            Plan.price_cents > 0,
            CreditLedger.created_at >= days.start,
            CreditLedger.created_at < days.end,
        )
        .group_by(day, Plan.code)
    )
    for when, code, cents in assigned:
        found.assigned_revenue_cents += int(cents)
        book(code, as_date(when), int(cents))
    # Stripe invoices, each counted once however many of its events arrived.
    plan_of_subscription: dict[str | None, str] = {  # noqa: C416 (a Result is no mapping for dict())
        stripe_id: code
        for stripe_id, code in session.execute(
            sa.select(Subscription.stripe_subscription_id, Plan.code)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(Subscription.stripe_subscription_id.is_not(None))
        )
    }
    seen: set[str] = set()
    events = session.execute(
        sa.select(StripeEvent.received_at, StripeEvent.payload)
        .where(StripeEvent.type.in_(INVOICE_EVENTS))
        .where(StripeEvent.received_at >= days.start, StripeEvent.received_at < days.end)
        .order_by(StripeEvent.received_at)
    )
    for when, payload in events:
        invoice = (payload.get("data") or {}).get("object") or {}
        key = str(invoice.get("id") or id(invoice))
        cents = invoice.get("amount_paid")
        if key in seen or not isinstance(cents, int) or cents <= 0:
            continue
        seen.add(key)
        found.stripe_revenue_cents += cents
        book(plan_of_subscription.get(invoice.get("subscription"), NO_PLAN), when.date(), cents)
    found.per_plan = sorted(plans.values(), key=lambda p: (-p.revenue_cents, -p.jobs, p.plan))


def _latency(session: Session, days: DateRange, found: AdminAnalytics) -> None:
    """p50 and p95 of the provider's run time of the newest LATENCY_SAMPLE succeeded jobs of each model,
    read from the index on (model_endpoint, outcome, created_at, run_ms) alone."""
    done = sa.and_(_in(days), UsageLog.outcome == "succeeded", UsageLog.run_ms.is_not(None))
    for figures in found.per_model:
        newest = (
            sa.select(UsageLog.run_ms)
            .where(done, UsageLog.model_endpoint == figures.endpoint)
            .order_by(UsageLog.created_at.desc())
            .limit(LATENCY_SAMPLE)
        )
        if is_postgres(session):
            sample = newest.subquery()
            row = session.execute(
                sa.select(
                    sa.func.percentile_cont(0.5).within_group(sample.c.run_ms),
                    sa.func.percentile_cont(0.95).within_group(sample.c.run_ms),
                )
            ).one()
            p50, p95 = row
            figures.p50_ms = None if p50 is None else float(p50)
            figures.p95_ms = None if p95 is None else float(p95)
            continue
        # On the connection: Core rows, without the ORM's per-row work (20,000 of them per model).
        ms: list[float] = [
            value for value in session.connection().execute(newest).scalars() if value is not None
        ]
        figures.p50_ms = percentile(ms, 0.5)
        figures.p95_ms = percentile(ms, 0.95)


def as_csv(found: AdminAnalytics) -> str:
    """The figures per day and per model, as one CSV file (two sections)."""
    out = io.StringIO()
    writer = csv.writer(out)
    day_fields = list(asdict(found.per_day[0])) if found.per_day else []
    writer.writerow(["section", *day_fields, "margin"])
    for day in found.per_day:
        margin = gross_margin(day.revenue_cents, day.cost_micros)
        writer.writerow(["day", *asdict(day).values(), "" if margin is None else f"{margin:.4f}"])
    writer.writerow([])
    writer.writerow(
        [
            "section",
            "model",
            "endpoint",
            "jobs",
            "succeeded",
            "failed",
            "cancelled",
            "credits",
            "cost_micros",
            "success_rate",
            "p50_ms",
            "p95_ms",
            "avg_queue_ms",
            "avg_run_ms",
        ]
    )
    for m in found.per_model:
        writer.writerow(
            [
                "model",
                m.name,
                m.endpoint,
                m.jobs,
                m.succeeded,
                m.failed,
                m.cancelled,
                m.credits,
                m.cost_micros,
                _num(m.success_rate),
                _num(m.p50_ms),
                _num(m.p95_ms),
                _num(m.avg_queue_ms),
                _num(m.avg_run_ms),
            ]
        )
    writer.writerow([])
    writer.writerow(["section", "plan", "jobs", "credits", "cost_micros", "revenue_cents", "margin"])
    for p in found.per_plan:
        writer.writerow(["plan", p.plan, p.jobs, p.credits, p.cost_micros, p.revenue_cents, _num(p.margin)])
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
