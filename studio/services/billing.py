"""Paid plans through Stripe: Checkout to upgrade, the Customer Portal to change or cancel, and webhooks.

Stripe's word is taken from verified webhooks and from Stripe's API, never from the browser: the return
from Checkout only makes us ask Stripe about that session. Every webhook is recorded under its event id
before it is handled, and a second delivery of the same id is skipped. Handlers never trust the order
events arrive in: they read the subscription as Stripe has it now and apply that, so an `updated` before
its `created`, or a retry of an old event, ends in the same state.

Credits follow invoices: each paid invoice of a subscription starts a cycle (what is left expires, the
plan's credits are granted), once per invoice id, and an invoice older than the cycle we are in changes
nothing. A move to a plan with more credits mid-cycle grants the difference once; a move down takes effect
at the next invoice. When a subscription ends, a free cycle starts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db.models import CheckoutSession, Plan, StripeEvent, Subscription, User, utcnow
from studio.adapters.payments import BadSignature, Obj, Payments
from studio.domain.credits import LedgerKind
from studio.errors import InvalidInput, NotFound
from studio.services import plans
from studio.services.credits import change_balance

if TYPE_CHECKING:
    from studio.bootstrap import Services

log = logging.getLogger(__name__)

BILLING_PATH = "billing"
#: Subscription states in which the paid plan is in force (past_due: a payment failed, Stripe retries).
LIVE = frozenset({"active", "trialing", "past_due"})
#: States in which it has ended for good.
ENDED = frozenset({"canceled", "incomplete_expired", "unpaid"})
HANDLED = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
    }
)
PAID_EVENTS = frozenset({"invoice.paid", "invoice.payment_succeeded", "checkout.session.completed"})
#: A checkout page not yet paid is offered again for this long, rather than a new one per click.
CHECKOUT_REUSE = timedelta(hours=1)

PAYMENTS_OFF = "Payments are off on this installation: an administrator assigns plans."


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


@dataclass(frozen=True)
class WebhookResult:
    status: int
    message: str


def _payments(services: Services) -> Payments:
    if services.payments is None:
        raise InvalidInput(PAYMENTS_OFF)
    return services.payments


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
            renews_at=_aware(subscription.current_period_end),
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
    return _notice(row[0], _aware(row[1]), row[2] is not None, row[3])


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


# --- leaving for Stripe's pages ----------------------------------------------------------------------------


def start_checkout(services: Services, user_id: uuid.UUID, plan_code: str) -> str:
    """The URL of a Stripe Checkout page for `plan_code` (an open one of the last hour is reused)."""
    payments = _payments(services)
    now = utcnow()
    with services.uow() as uow:
        user = uow.users.get(user_id)
        if user is None or user.deleted_at is not None or user.disabled_at is not None:
            raise NotFound("no such account")
        plan = uow.session.scalar(sa.select(Plan).where(Plan.code == plan_code, Plan.is_active))
        if plan is None or plan.stripe_price_id is None:
            raise InvalidInput(f"The plan {plan_code!r} cannot be bought here.")
        subscription = uow.session.scalar(sa.select(Subscription).where(Subscription.user_id == user_id))
        if subscription is not None and subscription.stripe_subscription_id is not None:
            raise InvalidInput("You already have a paid plan: change it under Manage billing.")
        reusable = uow.session.scalar(
            sa.select(CheckoutSession)
            .where(
                CheckoutSession.user_id == user_id,
                CheckoutSession.plan_id == plan.id,
                CheckoutSession.completed_at.is_(None),
                CheckoutSession.url.is_not(None),
                CheckoutSession.created_at > now - CHECKOUT_REUSE,
            )
            .order_by(CheckoutSession.created_at.desc())
            .limit(1)
        )
        if reusable is not None and reusable.url:
            return reusable.url
        customer_id, email, name = user.stripe_customer_id, user.email, user.name
        price_id, plan_id = plan.stripe_price_id, plan.id
    if customer_id is None:
        customer_id = _customer(services, payments, user_id, email, name)
    attempt = CheckoutSession(id=uuid.uuid4(), user_id=user_id, plan_id=plan_id, created_at=now)
    with services.uow() as uow:
        uow.session.add(attempt)
        uow.commit()
    base = services.settings.public_base_url
    page = payments.checkout(
        customer_id=customer_id,
        price_id=price_id,
        user_id=str(user_id),
        plan_code=plan_code,
        success_url=f"{base}/{BILLING_PATH}?checkout={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/{BILLING_PATH}",
        idempotency_key=f"checkout:{attempt.id}",
    )
    with services.uow() as uow:
        uow.session.execute(
            sa.update(CheckoutSession)
            .where(CheckoutSession.id == attempt.id)
            .values(stripe_session_id=page.id, url=page.url)
        )
        uow.commit()
    log.info("checkout started", extra={"user_id": str(user_id), "plan": plan_code})
    return page.url


def _customer(services: Services, payments: Payments, user_id: uuid.UUID, email: str, name: str) -> str:
    """The account's Stripe customer, made once: the key is the account's id, so a retry gets the same."""
    customer_id = payments.customer(
        email=email, name=name, user_id=str(user_id), idempotency_key=f"customer:{user_id}"
    )
    with services.uow() as uow:
        uow.session.execute(
            sa.update(User)
            .where(User.id == user_id, User.stripe_customer_id.is_(None))
            .values(stripe_customer_id=customer_id)
        )
        uow.commit()
        stored = uow.session.scalar(sa.select(User.stripe_customer_id).where(User.id == user_id))
    return stored or customer_id


def portal_url(services: Services, user_id: uuid.UUID) -> str:
    """The Stripe Customer Portal for this account, coming back to the billing page."""
    payments = _payments(services)
    with services.uow() as uow:
        customer_id = uow.session.scalar(sa.select(User.stripe_customer_id).where(User.id == user_id))
    if customer_id is None:
        raise InvalidInput("There is nothing to manage yet: you have never bought a plan.")
    # One portal session per account and five minutes: a double click opens the same page.
    window = int(utcnow().timestamp()) // 300
    page = payments.portal(
        customer_id=customer_id,
        return_url=f"{services.settings.public_base_url}/{BILLING_PATH}",
        idempotency_key=f"portal:{user_id}:{window}",
    )
    return page.url


def confirm_checkout(services: Services, user_id: uuid.UUID, session_id: str) -> str:
    """Back from Checkout: ask Stripe about the session and apply it (the webhook may come later)."""
    payments = _payments(services)
    with services.uow() as uow:
        ours = uow.session.scalar(
            sa.select(CheckoutSession).where(
                CheckoutSession.stripe_session_id == session_id, CheckoutSession.user_id == user_id
            )
        )
    if ours is None:
        raise NotFound("This checkout is not one of yours.")
    session = payments.checkout_session(session_id)
    if session.get("client_reference_id") != str(user_id):
        raise NotFound("This checkout is not one of yours.")
    if session.get("status") != "complete":
        return "The payment was not completed; your plan has not changed."
    _apply_checkout(services, payments, session)
    return "Thank you: your plan is active and its credits are in your account."


def cancel_for_deleted_account(services: Services, user_id: uuid.UUID) -> None:
    """A deleted account's paid subscription ends now at Stripe, so nobody is billed for it again."""
    if services.payments is None:
        return
    with services.uow() as uow:
        stripe_id = uow.session.scalar(
            sa.select(Subscription.stripe_subscription_id).where(Subscription.user_id == user_id)
        )
    if stripe_id:
        services.payments.cancel(stripe_id, idempotency_key=f"cancel:{stripe_id}")


# --- webhooks -------------------------------------------------------------------------------------------


def receive_webhook(services: Services, payload: bytes, signature: str) -> WebhookResult:
    """`POST /api/stripe/webhook`: verify, record under the event id, skip duplicates, then handle."""
    if services.payments is None:
        return WebhookResult(404, "payments are off")
    try:
        event = services.payments.verify(payload, signature)
    except BadSignature as err:
        log.warning("stripe webhook refused: %s", err)
        return WebhookResult(400, "bad signature")
    event_id, kind = str(event["id"]), str(event.get("type", ""))
    if not _record(services, event) and _processed(services, event_id):
        log.info("stripe event skipped (already handled)", extra={"event": event_id, "type": kind})
        return WebhookResult(200, "duplicate")
    try:
        handled = _handle(services, services.payments, event)
    except Exception as err:
        # Stripe retries a failed delivery for days: the event stays recorded, unprocessed, with why.
        log.exception("stripe event failed", extra={"event": event_id, "type": kind})
        with services.uow() as uow:
            uow.session.execute(
                sa.update(StripeEvent)
                .where(StripeEvent.event_id == event_id)
                .values(error=f"{type(err).__name__}: {err}"[:2000])
            )
            uow.commit()
        return WebhookResult(500, "not handled; retry")
    log.info("stripe event handled", extra={"event": event_id, "type": kind, "outcome": handled})
    return WebhookResult(200, handled)


def _record(services: Services, event: Obj) -> bool:
    """Store the event under its unique id; False when that id was stored before."""
    try:
        with services.uow() as uow:
            uow.session.add(
                StripeEvent(
                    event_id=str(event["id"]),
                    type=str(event.get("type", ""))[:100],
                    livemode=bool(event.get("livemode", False)),
                    payload=event,
                )
            )
            uow.commit()
    except IntegrityError:
        return False
    return True


def _processed(services: Services, event_id: str) -> bool:
    with services.uow() as uow:
        return (
            uow.session.scalar(sa.select(StripeEvent.processed_at).where(StripeEvent.event_id == event_id))
            is not None
        )


def _handle(services: Services, payments: Payments, event: Obj) -> str:
    kind = str(event.get("type", ""))
    obj: Obj = event.get("data", {}).get("object", {})
    # What Stripe says now is read before the transaction; the event's own copy may be stale.
    if kind not in HANDLED:
        current: Obj | None = None
        invoice: Obj | None = None
    elif kind == "checkout.session.completed":
        current = _subscription_of(payments, obj.get("subscription"))
        invoice = _paid_invoice(payments, current)
    elif kind.startswith("customer.subscription."):
        current = _subscription_of(payments, obj.get("id")) or obj
        invoice = None
    else:
        current = _subscription_of(payments, obj.get("subscription"))
        invoice = obj
    now = utcnow()
    with services.uow() as uow:
        recorded = uow.session.scalar(
            sa.select(StripeEvent).where(StripeEvent.event_id == str(event["id"])).with_for_update()
        )
        if recorded is None or recorded.processed_at is not None:
            return "duplicate"  # a concurrent delivery of the same event got here first
        outcome = "ignored"
        if current is not None:
            outcome = _apply_subscription(uow.session, current, now)
            if kind in PAID_EVENTS and invoice:
                outcome = _apply_paid_invoice(uow.session, current, invoice, now)
            elif kind == "invoice.payment_failed" and invoice:
                outcome = _apply_failed_invoice(uow.session, current, invoice, now)
        if kind == "checkout.session.completed" and obj.get("id"):
            _complete_checkout(uow.session, str(obj["id"]), now)
        recorded.processed_at = now
        recorded.error = None
        uow.commit()
    return outcome


def _apply_checkout(services: Services, payments: Payments, session: Obj) -> None:
    """The return from Checkout: the same work as its webhook, safe to do twice."""
    current = _subscription_of(payments, session.get("subscription"))
    invoice = _paid_invoice(payments, current)
    now = utcnow()
    with services.uow() as uow:
        if current is not None:
            _apply_subscription(uow.session, current, now)
            if invoice is not None:
                _apply_paid_invoice(uow.session, current, invoice, now)
        _complete_checkout(uow.session, str(session["id"]), now)
        uow.commit()


def _subscription_of(payments: Payments, subscription_id: Any) -> Obj | None:
    if not isinstance(subscription_id, str) or not subscription_id:
        return None
    try:
        return payments.subscription(subscription_id)
    except NotFound:
        return None  # not at this Stripe account; if Stripe is unreachable, the delivery fails and is retried


def _paid_invoice(payments: Payments, subscription: Obj | None) -> Obj | None:
    invoice_id = subscription.get("latest_invoice") if subscription else None
    if isinstance(invoice_id, dict):
        invoice_id = invoice_id.get("id")
    if not isinstance(invoice_id, str):
        return None
    invoice = payments.invoice(invoice_id)
    return invoice if invoice.get("status") == "paid" else None


def _complete_checkout(session: Session, stripe_session_id: str, now: datetime) -> None:
    session.execute(
        sa.update(CheckoutSession)
        .where(CheckoutSession.stripe_session_id == stripe_session_id, CheckoutSession.completed_at.is_(None))
        .values(completed_at=now)
    )


# --- applying Stripe's state ------------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int | float) else None


def _first_item(subscription: Obj) -> Obj:
    items = (subscription.get("items") or {}).get("data") or [{}]
    first: Obj = items[0]
    return first


def _price_id(line: Obj) -> str | None:
    for key in ("price", "plan"):
        value = line.get(key)
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return str(value["id"])
        if isinstance(value, str):
            return value
    # Invoice lines of Stripe's API 2025-03-31 and later name the price here.
    pricing = (line.get("pricing") or {}).get("price_details") or {}
    price = pricing.get("price")
    return price if isinstance(price, str) else None


def _period(subscription: Obj) -> tuple[datetime, datetime] | None:
    """The current period; since Stripe's API of 2025-03-31 it is on the items, before on the subscription."""
    for source in (_first_item(subscription), subscription):
        start = _timestamp(source.get("current_period_start"))
        end = _timestamp(source.get("current_period_end"))
        if start and end:
            return start, end
    return None


def _owner(session: Session, subscription: Obj) -> Subscription | None:
    """Our subscription row for Stripe's subscription: by its id, its metadata, or its customer."""
    stripe_id = str(subscription.get("id", ""))
    row = session.scalar(
        sa.select(Subscription).where(Subscription.stripe_subscription_id == stripe_id).with_for_update()
    )
    if row is not None:
        return row
    user_id: uuid.UUID | None = None
    meta = (subscription.get("metadata") or {}).get("user_id")
    try:
        user_id = uuid.UUID(str(meta)) if meta else None
    except ValueError:
        user_id = None
    customer = subscription.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    by_customer = session.scalar(sa.select(User.id).where(User.stripe_customer_id == customer_id))
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


def _apply_subscription(session: Session, subscription: Obj, now: datetime) -> str:
    """Make our row agree with Stripe's subscription as it is now."""
    row = _owner(session, subscription)
    if row is None:
        log.warning("stripe subscription of no known account", extra={"subscription": subscription.get("id")})
        return "unknown customer"
    stripe_id, status = str(subscription["id"]), str(subscription.get("status", ""))
    if status in ENDED:
        if row.stripe_subscription_id != stripe_id:
            return "already ended"
        plans.return_to_free(session, row, now, f"Paid plan ended ({status})")
        return "returned to free"
    if status not in LIVE:
        return f"waiting ({status})"  # incomplete: the first payment has not gone through yet
    plan = _plan_for(session, _price_id(_first_item(subscription)))
    if plan is None:
        raise NotFound(f"no plan has the Stripe price of subscription {stripe_id}")
    period = _period(subscription)
    same_cycle = (
        row.stripe_subscription_id == stripe_id
        and period is not None
        and _aware(row.current_period_start) == period[0]
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
    row.cancel_at_period_end = bool(subscription.get("cancel_at_period_end")) or bool(
        subscription.get("cancel_at")
    )
    if status != "past_due":
        row.payment_failed_at = None
    return f"{plan.code} {status}"


def _subscription_line_price(invoice: Obj) -> str | None:
    """The price the invoice charges the subscription for (proration lines aside)."""
    lines = (invoice.get("lines") or {}).get("data") or []
    for line in reversed(lines):
        parent_type = (line.get("parent") or {}).get("type")
        is_subscription = line.get("type") == "subscription" or parent_type == "subscription_item_details"
        if is_subscription and not line.get("proration"):
            return _price_id(line)
    return None


def _invoice_period_start(invoice: Obj) -> datetime | None:
    lines = (invoice.get("lines") or {}).get("data") or []
    for line in lines:
        start = _timestamp((line.get("period") or {}).get("start"))
        if start is not None:
            return start
    return _timestamp(invoice.get("period_start"))


def _apply_paid_invoice(session: Session, subscription: Obj, invoice: Obj, now: datetime) -> str:
    """A paid invoice starts its cycle: unused credits expire and the plan's are granted, once per invoice."""
    row = _owner(session, subscription)
    if row is None or row.stripe_subscription_id != subscription.get("id"):
        return "not a live subscription"
    invoice_id = str(invoice["id"])
    start = _invoice_period_start(invoice)
    if start is not None and start < _aware(row.current_period_start):
        return "older cycle"  # a late delivery of a cycle we have already moved past
    plan = _plan_for(session, _subscription_line_price(invoice)) or session.get(Plan, row.plan_id)
    assert plan is not None
    plans.expire_unused(
        session, row, "Unused credits at the start of a paid cycle", dedupe_key=f"expire:{invoice_id}"
    )
    granted = change_balance(
        session,
        row.user_id,
        plan.monthly_credits,
        LedgerKind.GRANT,
        f"{plan.name} plan: {plan.monthly_credits} credits (invoice paid)",
        ref_type="stripe_invoice",
        ref_id=invoice_id,
        dedupe_key=f"grant:{invoice_id}",
    )
    row.payment_failed_at = None
    if granted is not None:
        row.usage_alert_level = 0
    return "granted" if granted is not None else "already granted"


def _apply_failed_invoice(session: Session, subscription: Obj, invoice: Obj, now: datetime) -> str:
    row = _owner(session, subscription)
    if row is None or row.stripe_subscription_id != subscription.get("id"):
        return "not a live subscription"
    start = _invoice_period_start(invoice)
    if start is not None and start < _aware(row.current_period_start):
        return "older cycle"
    if invoice.get("status") == "paid":
        return "paid since"
    row.payment_failed_at = row.payment_failed_at or now
    return "payment failed"
