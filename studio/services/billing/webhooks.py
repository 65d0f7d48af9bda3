"""Stripe's webhooks: verified by signature, recorded under their event id before they are handled, and
skipped when that id was handled before. Stripe's word is taken from these and from its API, never from
the browser. The route (`studio.web.stripe_webhook`) turns the errors raised here into status codes.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from studio.adapters.db.models import StripeEvent, utcnow
from studio.adapters.payments import PaymentEvent, Payments, StripeInvoice, StripeSubscription
from studio.errors import BadSignature, NotFound, WebhookNotHandled
from studio.services.billing import subscriptions
from studio.services.context import Services

log = logging.getLogger(__name__)

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
PAYMENTS_OFF = "payments are off"


def receive_webhook(services: Services, payload: bytes, signature: str) -> str:
    """Verify, record under the event id, skip duplicates, then handle; returns what was done.

    NotFound when payments are off, BadSignature for a body Stripe did not sign, WebhookNotHandled when
    handling failed (the event stays recorded, unprocessed, with why: Stripe retries it for days)."""
    if services.payments is None:
        raise NotFound(PAYMENTS_OFF)
    try:
        event = services.payments.verify(payload, signature)
    except BadSignature as err:
        log.warning("stripe webhook refused: %s", err)
        raise
    if not _record(services, event) and _processed(services, event.id):
        log.info("stripe event skipped (already handled)", extra={"event": event.id, "type": event.type})
        return "duplicate"
    try:
        handled = _handle(services, services.payments, event)
    except Exception as err:
        log.exception("stripe event failed", extra={"event": event.id, "type": event.type})
        with services.uow() as uow:
            uow.session.execute(
                sa.update(StripeEvent)
                .where(StripeEvent.event_id == event.id)
                .values(error=f"{type(err).__name__}: {err}"[:2000])
            )
            uow.commit()
        raise WebhookNotHandled(f"stripe event {event.id} was not handled") from err
    log.info("stripe event handled", extra={"event": event.id, "type": event.type, "outcome": handled})
    return handled


def _record(services: Services, event: PaymentEvent) -> bool:
    """Store the event under its unique id; False when that id was stored before."""
    try:
        with services.uow() as uow:
            uow.session.add(
                StripeEvent(
                    event_id=event.id, type=event.type[:100], livemode=event.livemode, payload=event.payload
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


def _handle(services: Services, payments: Payments, event: PaymentEvent) -> str:
    kind = event.type
    # What Stripe says now is read before the transaction; the event's own copy may be stale.
    current: StripeSubscription | None = None
    invoice: StripeInvoice | None = None
    if kind == "checkout.session.completed":
        current = subscriptions.subscription_of(payments, event.subscription_id)
        invoice = subscriptions.paid_invoice(payments, current)
    elif kind in HANDLED and kind.startswith("customer.subscription."):
        current = subscriptions.subscription_of(payments, event.subscription_id) or event.subscription
    elif kind in HANDLED:  # the invoice events
        current = subscriptions.subscription_of(payments, event.subscription_id)
        invoice = event.invoice
    now = utcnow()
    with services.uow() as uow:
        recorded = uow.session.scalar(
            sa.select(StripeEvent).where(StripeEvent.event_id == event.id).with_for_update()
        )
        if recorded is None or recorded.processed_at is not None:
            return "duplicate"  # a concurrent delivery of the same event got here first
        outcome = "ignored"
        if current is not None:
            outcome = subscriptions.apply_subscription(uow.session, current, now)
            if kind in PAID_EVENTS and invoice:
                outcome = subscriptions.apply_paid_invoice(uow.session, current, invoice, now)
            elif kind == "invoice.payment_failed" and invoice:
                outcome = subscriptions.apply_failed_invoice(uow.session, current, invoice, now)
        if kind == "checkout.session.completed" and event.object_id:
            subscriptions.complete_checkout(uow.session, event.object_id, now)
        recorded.processed_at = now
        recorded.error = None
        uow.commit()
    return outcome
