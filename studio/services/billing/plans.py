"""Plans and monthly cycles: every account has a subscription row, free or paid, with its current cycle.

At the end of a free cycle the unused credits expire (an expire row) and the plan's credits are granted
(a grant row), in one transaction with unique dedupe keys, so a renewal happens once however many
processes try it. Renewals run from a scheduled job and, so nobody waits on the scheduler, whenever an
account's balance matters (`renew_if_due`). Paid cycles renew on Stripe's invoices instead.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db.models import Plan, Subscription, User, utcnow
from studio.domain.credits import LedgerKind
from studio.domain.plans import FREE, PLANS, next_period
from studio.services.billing.ledger import change_balance
from studio.services.context import Services

log = logging.getLogger(__name__)
RENEW_BATCH = 200


def sync_plans(services: Services) -> None:
    """Create the plans the studio ships with; a plan that exists keeps what admins set, except the Stripe
    price ids configured in settings (STRIPE_PRICE_*), which are written on every start."""
    prices = services.settings.stripe_prices
    with services.uow() as uow:
        existing = {plan.code: plan for plan in uow.session.scalars(sa.select(Plan))}
        for spec in PLANS:
            plan = existing.get(spec.code)
            if plan is None:
                uow.session.add(
                    Plan(
                        code=spec.code,
                        name=spec.name,
                        monthly_credits=spec.monthly_credits,
                        price_cents=spec.price_cents,
                        sort_order=spec.sort_order,
                        stripe_price_id=prices.get(spec.code),
                    )
                )
            elif spec.code in prices and plan.stripe_price_id != prices[spec.code]:
                plan.stripe_price_id = prices[spec.code]
        try:
            uow.commit()
        except IntegrityError:  # another process seeded them at the same moment
            uow.rollback()


def _free_plan(session: Session) -> Plan:
    plan = session.scalar(sa.select(Plan).where(Plan.code == FREE))
    if plan is None:  # plans are seeded on start; a bare database (a test, a script) gets the free one here
        spec = next(spec for spec in PLANS if spec.code == FREE)
        plan = Plan(code=FREE, name=spec.name, monthly_credits=spec.monthly_credits, price_cents=0)
        session.add(plan)
        session.flush()
    return plan


def start_free_plan(session: Session, user_id: uuid.UUID, now: datetime | None = None) -> None:
    """A new account's free plan: its first cycle from now, and that cycle's credits (in the caller's
    transaction)."""
    now = now or utcnow()
    plan = _free_plan(session)
    subscription = Subscription(
        user_id=user_id,
        plan_id=plan.id,
        current_period_start=now,
        current_period_end=next_period(now, now.day),
        billing_anchor_day=now.day,
    )
    session.add(subscription)
    session.flush()
    _grant(session, subscription, plan, now)


def _grant(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    cycle_start: datetime,
    actor_id: uuid.UUID | None = None,
) -> None:
    """The plan's credits for the cycle beginning at `cycle_start`, once (its dedupe key names the cycle)."""
    change_balance(
        session,
        subscription.user_id,
        plan.monthly_credits,
        LedgerKind.GRANT,
        f"{plan.name} plan: {plan.monthly_credits} credits for the cycle from {cycle_start:%d %b %Y}",
        ref_type="plan",
        ref_id=plan.code,
        actor_id=actor_id,
        dedupe_key=f"grant:{subscription.id}:{cycle_start.isoformat()}",
    )


def expire_unused(
    session: Session,
    subscription: Subscription,
    reason: str,
    *,
    dedupe_key: str,
    actor_id: uuid.UUID | None = None,
) -> int:
    """The balance left at the end of a cycle expires (an expire row), once per `dedupe_key`; returns it."""
    balance = (
        session.scalar(
            sa.select(User.credit_balance).where(User.id == subscription.user_id).with_for_update()
        )
        or 0
    )
    if balance:
        change_balance(
            session,
            subscription.user_id,
            -balance,
            LedgerKind.EXPIRE,
            reason,
            ref_type="subscription",
            ref_id=str(subscription.id),
            actor_id=actor_id,
            dedupe_key=dedupe_key,
        )
    return balance


def restart_cycle(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    now: datetime,
    reason: str,
    actor_id: uuid.UUID | None = None,
) -> int:
    """The account on `plan` from now: what is left expires and a cycle starts with the plan's credits
    (in the caller's transaction). Returns the credits that expired."""
    expired = expire_unused(
        session,
        subscription,
        reason,
        dedupe_key=f"expire:{subscription.id}:{now.isoformat()}",
        actor_id=actor_id,
    )
    subscription.plan_id = plan.id
    subscription.current_period_start = now
    subscription.current_period_end = next_period(now, now.day)
    subscription.billing_anchor_day = now.day
    subscription.usage_alert_level = 0
    _grant(session, subscription, plan, now, actor_id)
    return expired


def return_to_free(session: Session, subscription: Subscription, now: datetime, reason: str) -> None:
    """A paid plan has ended: what is left expires and a free cycle starts now, with its credits."""
    subscription.stripe_subscription_id = None
    subscription.status = "active"
    subscription.cancel_at_period_end = False
    subscription.payment_failed_at = None
    restart_cycle(session, subscription, _free_plan(session), now, reason)


def _renew(session: Session, subscription: Subscription, now: datetime) -> bool:
    """Close every finished cycle of a free subscription and open the current one; False if not due."""
    if subscription.stripe_subscription_id is not None or subscription.current_period_end > now:
        return False
    start, end = subscription.current_period_start, subscription.current_period_end
    while end <= now:  # months without a visit renew once, into the cycle that contains now
        start, end = end, next_period(end, subscription.billing_anchor_day)
    plan = session.get(Plan, subscription.plan_id)
    assert plan is not None
    expire_unused(
        session,
        subscription,
        f"Unused credits of the cycle ending {subscription.current_period_end:%d %b %Y}",
        dedupe_key=f"expire:{subscription.id}:{subscription.current_period_end.isoformat()}",
    )
    _grant(session, subscription, plan, start)
    subscription.current_period_start, subscription.current_period_end = start, end
    subscription.usage_alert_level = 0
    return True


def renew_if_due(services: Services, user_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Renew this account's free cycle if it has ended; True when it did (one indexed read otherwise)."""
    now = now or utcnow()
    with services.uow() as uow:
        subscription = uow.session.scalar(
            sa.select(Subscription).where(Subscription.user_id == user_id).with_for_update()
        )
        if subscription is None or not _renew(uow.session, subscription, now):
            return False
        try:
            uow.commit()
        except IntegrityError:  # a concurrent renewal of the same cycle committed first
            return False
    log.info("free plan renewed", extra={"user_id": str(user_id)})
    return True


def renew_due(services: Services, now: datetime | None = None) -> int:
    """The scheduled pass: renew every free cycle that has ended; returns how many were renewed."""
    now = now or utcnow()
    with services.uow() as uow:
        due = list(
            uow.session.scalars(
                sa.select(Subscription.user_id)
                .where(Subscription.current_period_end <= now, Subscription.stripe_subscription_id.is_(None))
                .order_by(Subscription.current_period_end)
                .limit(RENEW_BATCH)
            )
        )
    return sum(renew_if_due(services, user_id, now) for user_id in due)


def cycle(services: Services, user_id: uuid.UUID) -> tuple[str, datetime, datetime] | None:
    """The account's plan name and current cycle (start, renewal), after renewing it if it was due."""
    renew_if_due(services, user_id)
    with services.uow() as uow:
        row = uow.session.execute(
            sa.select(Plan.name, Subscription.current_period_start, Subscription.current_period_end)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(Subscription.user_id == user_id)
        ).one_or_none()
    return (row[0], row[1], row[2]) if row else None
