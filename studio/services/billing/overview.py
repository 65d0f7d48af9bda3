"""The account's plan as the Billing page shows it: the plan, its state at Stripe as last heard, the plans
on offer, and the banner for a failed payment or a plan that is ending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from studio.adapters.db.models import Plan, Subscription, User
from studio.errors import NotFound
from studio.services.billing import plans
from studio.services.billing.subscriptions import aware
from studio.services.context import Services

BILLING_PATH = "billing"


@dataclass(frozen=True)
class PlanOffer:
    code: str
    name: str
    monthly_credits: int
    price_cents: int
    purchasable: bool
    current: bool


@dataclass(frozen=True)
class Billing:
    payments_on: bool
    plan_code: str
    plan_name: str
    monthly_credits: int
    status: str
    renews_at: datetime
    paid: bool
    cancel_at_period_end: bool
    payment_failed: bool
    has_customer: bool
    offers: list[PlanOffer]

    @property
    def notice(self) -> str | None:
        """What the account holder must know about their plan now, if anything."""
        return _notice(self.plan_name, self.renews_at, self.payment_failed, self.cancel_at_period_end)


def billing(services: Services, user_id: uuid.UUID) -> Billing:
    """The account's plan, its state at Stripe as last heard, and the plans on offer."""
    plans.renew_if_due(services, user_id)
    with services.uow() as uow:
        row = uow.session.execute(
            sa.select(Subscription, Plan, User.stripe_customer_id)
            .join(Plan, Plan.id == Subscription.plan_id)
            .join(User, User.id == Subscription.user_id)
            .where(Subscription.user_id == user_id)
        ).one_or_none()
        if row is None:
            raise NotFound("This account has no plan yet; an administrator can assign one.")
        subscription, plan, customer = row
        offers = [
            PlanOffer(
                code=offered.code,
                name=offered.name,
                monthly_credits=offered.monthly_credits,
                price_cents=offered.price_cents,
                purchasable=services.payments is not None and offered.stripe_price_id is not None,
                current=offered.id == plan.id,
            )
            for offered in uow.session.scalars(
                sa.select(Plan).where(Plan.is_active).order_by(Plan.sort_order, Plan.monthly_credits)
            )
        ]
        return Billing(
            payments_on=services.payments is not None,
            plan_code=plan.code,
            plan_name=plan.name,
            monthly_credits=plan.monthly_credits,
            status=subscription.status,
            renews_at=aware(subscription.current_period_end),
            paid=subscription.stripe_subscription_id is not None,
            cancel_at_period_end=subscription.cancel_at_period_end,
            payment_failed=subscription.payment_failed_at is not None,
            has_customer=customer is not None,
            offers=offers,
        )


def notice(services: Services, user_id: uuid.UUID) -> str | None:
    """The failed-payment or ending-plan banner, from one indexed read."""
    with services.uow() as uow:
        row = uow.session.execute(
            sa.select(
                Plan.name,
                Subscription.current_period_end,
                Subscription.payment_failed_at,
                Subscription.cancel_at_period_end,
            )
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(Subscription.user_id == user_id, Subscription.stripe_subscription_id.is_not(None))
        ).one_or_none()
    if row is None:
        return None
    return _notice(row[0], aware(row[1]), row[2] is not None, row[3])


def _notice(plan: str, ends: datetime, payment_failed: bool, cancelling: bool) -> str | None:
    when = f"{ends:%d %B %Y}"
    if payment_failed:
        return (
            f"Your last payment for the {plan} plan failed. Update your card under Manage billing "
            f"(Plans and billing); your plan stays until {when}."
        )
    if cancelling:
        return f"Your {plan} plan ends on {when}; you then go back to the free plan."
    return None
