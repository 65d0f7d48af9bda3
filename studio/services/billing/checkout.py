"""Leaving for Stripe's pages: Checkout to buy a plan, the Customer Portal to change or cancel it, and the
return from Checkout (which only makes us ask Stripe about that session: the browser's word is not proof).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa

from studio.adapters.db.models import CheckoutSession, Plan, Subscription, User, utcnow
from studio.adapters.payments import Payments
from studio.errors import InvalidInput, NotFound
from studio.services.billing import subscriptions
from studio.services.billing.overview import BILLING_PATH
from studio.services.context import Services

log = logging.getLogger(__name__)

#: A checkout page not yet paid is offered again for this long, rather than a new one per click.
CHECKOUT_REUSE = timedelta(hours=1)
PAYMENTS_OFF = "Payments are off on this installation: an administrator assigns plans."


def payments_of(services: Services) -> Payments:
    """Stripe, or InvalidInput saying payments are off here."""
    if services.payments is None:
        raise InvalidInput(PAYMENTS_OFF)
    return services.payments


def start_checkout(services: Services, user_id: uuid.UUID, plan_code: str) -> str:
    """The URL of a Stripe Checkout page for `plan_code` (an open one of the last hour is reused)."""
    payments = payments_of(services)
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
    payments = payments_of(services)
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
    payments = payments_of(services)
    with services.uow() as uow:
        ours = uow.session.scalar(
            sa.select(CheckoutSession).where(
                CheckoutSession.stripe_session_id == session_id, CheckoutSession.user_id == user_id
            )
        )
    if ours is None:
        raise NotFound("This checkout is not one of yours.")
    session = payments.checkout_session(session_id)
    if session.client_reference_id != str(user_id):
        raise NotFound("This checkout is not one of yours.")
    if session.status != "complete":
        return "The payment was not completed; your plan has not changed."
    subscriptions.apply_checkout(services, payments, session)
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
