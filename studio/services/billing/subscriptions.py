"""Applying Stripe's state to our subscription rows: what the webhooks and the return from Checkout share.

Handlers never trust the order events arrive in: they read the subscription as Stripe has it now and apply
that, so an `updated` before its `created`, or a retry of an old event, ends in the same state.

Credits follow invoices: each paid invoice of a subscription starts a cycle (what is left expires, the
plan's credits are granted), once per invoice id, and an invoice older than the cycle we are in changes
nothing. A move to a plan with more credits mid-cycle grants the difference once; a move down takes effect
at the next invoice. When a subscription ends, a free cycle starts.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import CheckoutSession, Plan, Subscription, User, utcnow
from studio.adapters.payments import Payments, StripeCheckout, StripeInvoice, StripeSubscription
from studio.domain.credits import LedgerKind
from studio.errors import NotFound
from studio.services.billing import plans
from studio.services.billing.ledger import change_balance
from studio.services.context import Services

log = logging.getLogger(__name__)

#: Subscription states in which the paid plan is in force (past_due: a payment failed, Stripe retries).
LIVE = frozenset({"active", "trialing", "past_due"})
#: States in which it has ended for good.
ENDED = frozenset({"canceled", "incomplete_expired", "unpaid"})


def aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite hands them back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def subscription_of(payments: Payments, subscription_id: str | None) -> StripeSubscription | None:
    """The subscription as Stripe has it now, or None when there is none by that id at this account."""
    if not subscription_id:
        return None
    try:
        return payments.subscription(subscription_id)
    except NotFound:
        return None  # not at this Stripe account; if Stripe is unreachable, the delivery fails and is retried


def paid_invoice(payments: Payments, subscription: StripeSubscription | None) -> StripeInvoice | None:
    """The subscription's latest invoice, when it is paid."""
    if subscription is None or subscription.latest_invoice_id is None:
        return None
    invoice = payments.invoice(subscription.latest_invoice_id)
    return invoice if invoice.status == "paid" else None


def apply_checkout(services: Services, payments: Payments, session: StripeCheckout) -> None:
    """The return from Checkout: the same work as its webhook, safe to do twice."""
    current = subscription_of(payments, session.subscription_id)
    invoice = paid_invoice(payments, current)
    now = utcnow()
    with services.uow() as uow:
        if current is not None:
            apply_subscription(uow.session, current, now)
            if invoice is not None:
                apply_paid_invoice(uow.session, current, invoice, now)
        complete_checkout(uow.session, session.id, now)
        uow.commit()


def complete_checkout(session: Session, stripe_session_id: str, now: datetime) -> None:
    session.execute(
        sa.update(CheckoutSession)
        .where(CheckoutSession.stripe_session_id == stripe_session_id, CheckoutSession.completed_at.is_(None))
        .values(completed_at=now)
    )


def _owner(session: Session, subscription: StripeSubscription) -> Subscription | None:
    """Our subscription row for Stripe's subscription: by its id, its metadata, or its customer."""
    row = session.scalar(
        sa.select(Subscription)
        .where(Subscription.stripe_subscription_id == subscription.id)
        .with_for_update()
    )
    if row is not None:
        return row
    try:
        user_id = uuid.UUID(subscription.user_id) if subscription.user_id else None
    except ValueError:
        user_id = None
    by_customer = session.scalar(
        sa.select(User.id).where(User.stripe_customer_id == subscription.customer_id)
    )
    if by_customer is None or (user_id is not None and user_id != by_customer):
        # The customer is the proof: we made it for this account. Metadata alone could be anyone's.
        return None
    return session.scalar(
        sa.select(Subscription).where(Subscription.user_id == by_customer).with_for_update()
    )


def _plan_for(session: Session, price_id: str | None) -> Plan | None:
    if price_id is None:
        return None
    return session.scalar(sa.select(Plan).where(Plan.stripe_price_id == price_id))


def apply_subscription(session: Session, subscription: StripeSubscription, now: datetime) -> str:
    """Make our row agree with Stripe's subscription as it is now."""
    row = _owner(session, subscription)
    if row is None:
        log.warning("stripe subscription of no known account", extra={"subscription": subscription.id})
        return "unknown customer"
    stripe_id, status = subscription.id, subscription.status
    if status in ENDED:
        if row.stripe_subscription_id != stripe_id:
            return "already ended"
        plans.return_to_free(session, row, now, f"Paid plan ended ({status})")
        return "returned to free"
    if status not in LIVE:
        return f"waiting ({status})"  # incomplete: the first payment has not gone through yet
    plan = _plan_for(session, subscription.price_id)
    if plan is None:
        raise NotFound(f"no plan has the Stripe price of subscription {stripe_id}")
    period = subscription.period
    same_cycle = (
        row.stripe_subscription_id == stripe_id
        and period is not None
        and aware(row.current_period_start) == period[0]
    )
    if same_cycle and plan.id != row.plan_id:
        before = session.get(Plan, row.plan_id)
        if before is not None and plan.monthly_credits > before.monthly_credits:
            change_balance(
                session,
                row.user_id,
                plan.monthly_credits - before.monthly_credits,
                LedgerKind.GRANT,
                f"Upgrade from {before.name} to {plan.name}: the difference for this cycle",
                ref_type="stripe_subscription",
                ref_id=stripe_id,
                dedupe_key=f"upgrade:{stripe_id}:{period[0].isoformat() if period else ''}:{plan.code}",
            )
    row.plan_id = plan.id
    row.stripe_subscription_id = stripe_id
    if period is not None:  # Stripe's period; a paid invoice older than its start changes nothing
        row.current_period_start, row.current_period_end = period
        row.billing_anchor_day = period[0].day
    row.status = status
    row.cancel_at_period_end = subscription.cancelling
    if status != "past_due":
        row.payment_failed_at = None
    return f"{plan.code} {status}"


def _invoiced_row(
    session: Session, subscription: StripeSubscription, invoice: StripeInvoice
) -> tuple[Subscription | None, str]:
    """Our live row the invoice belongs to, or None and why it changes nothing: the subscription is not
    the account's live one, or the invoice is of a cycle we have already moved past (a late delivery)."""
    row = _owner(session, subscription)
    if row is None or row.stripe_subscription_id != subscription.id:
        return None, "not a live subscription"
    start = invoice.period_start
    if start is not None and start < aware(row.current_period_start):
        return None, "older cycle"
    return row, ""


def apply_paid_invoice(
    session: Session, subscription: StripeSubscription, invoice: StripeInvoice, now: datetime
) -> str:
    """A paid invoice starts its cycle: unused credits expire and the plan's are granted, once per invoice."""
    row, refused = _invoiced_row(session, subscription, invoice)
    if row is None:
        return refused
    plan = _plan_for(session, invoice.price_id) or session.get(Plan, row.plan_id)
    assert plan is not None
    plans.expire_unused(
        session, row, "Unused credits at the start of a paid cycle", dedupe_key=f"expire:{invoice.id}"
    )
    granted = change_balance(
        session,
        row.user_id,
        plan.monthly_credits,
        LedgerKind.GRANT,
        f"{plan.name} plan: {plan.monthly_credits} credits (invoice paid)",
        ref_type="stripe_invoice",
        ref_id=invoice.id,
        dedupe_key=f"grant:{invoice.id}",
    )
    row.payment_failed_at = None
    if granted is not None:
        row.usage_alert_level = 0
    return "granted" if granted is not None else "already granted"


def apply_failed_invoice(
    session: Session, subscription: StripeSubscription, invoice: StripeInvoice, now: datetime
) -> str:
    row, refused = _invoiced_row(session, subscription, invoice)
    if row is None:
        return refused
    if invoice.status == "paid":
        return "paid since"
    row.payment_failed_at = row.payment_failed_at or now
    return "payment failed"
