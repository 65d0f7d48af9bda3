"""The seam for payments: Stripe when STRIPE_SECRET_KEY is set, otherwise payments are off.

With payments off, plans are assigned by admins and nothing here is called. Every call that creates
something at Stripe carries an idempotency key derived from one of our own rows, so a retried request
(ours or the library's own network retries) never makes a second customer, session or cancellation.

Stripe's JSON is read here, into the few typed objects the billing services need (`StripeSubscription`,
`StripeInvoice`, `StripeCheckout`, `PaymentEvent`), across the API versions that moved its fields: the
services never see a Stripe dict or the library's types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import stripe

from studio.errors import BadSignature, NotFound, PaymentsUnavailable

Obj = dict[str, Any]


@dataclass(frozen=True)
class HostedPage:
    id: str
    url: str


@dataclass(frozen=True)
class StripeSubscription:
    id: str
    status: str
    customer_id: str | None
    #: The account id we put in its metadata at checkout (a claim only: the customer is the proof).
    user_id: str | None
    #: The price of its (first) item.
    price_id: str | None
    #: The current period (start, end).
    period: tuple[datetime, datetime] | None
    #: It ends at the end of the period (cancel_at_period_end, or a cancel_at date).
    cancelling: bool
    latest_invoice_id: str | None


@dataclass(frozen=True)
class StripeInvoice:
    id: str
    status: str | None
    subscription_id: str | None
    #: The price the invoice charges the subscription for (proration lines aside).
    price_id: str | None
    #: The start of the period it pays for.
    period_start: datetime | None


@dataclass(frozen=True)
class StripeCheckout:
    id: str
    status: str | None
    client_reference_id: str | None
    subscription_id: str | None


@dataclass(frozen=True)
class PaymentEvent:
    """A verified webhook: its id and type, the JSON as delivered (recorded as it came), and its object."""

    id: str
    type: str
    livemode: bool
    payload: Obj
    #: The id of the event's object, and the subscription that object belongs to.
    object_id: str | None
    subscription_id: str | None
    #: The event's own copy of its object, read by type (the services prefer Stripe's current state).
    subscription: StripeSubscription | None
    invoice: StripeInvoice | None


class Payments(Protocol):
    def customer(self, *, email: str, name: str, user_id: str, idempotency_key: str) -> str:
        """A Stripe customer for this account; returns its id."""
        ...

    def checkout(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: str,
        plan_code: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> HostedPage:
        """A hosted Checkout page (subscription mode) for one plan."""
        ...

    def checkout_session(self, session_id: str) -> StripeCheckout: ...

    def portal(self, *, customer_id: str, return_url: str, idempotency_key: str) -> HostedPage:
        """The Customer Portal, where a customer changes or cancels their subscription."""
        ...

    def subscription(self, subscription_id: str) -> StripeSubscription: ...

    def invoice(self, invoice_id: str) -> StripeInvoice: ...

    def cancel(self, subscription_id: str, *, idempotency_key: str) -> None:
        """End a subscription now (the account is being deleted)."""
        ...

    def verify(self, payload: bytes, signature: str) -> PaymentEvent:
        """The event in a webhook body, or BadSignature."""
        ...


class StripePayments:
    """Payments through the stripe library's client (one per process; it is thread-safe)."""

    #: Stripe's own default: a signature older than five minutes is refused (replays).
    TOLERANCE_SECONDS = 300

    def __init__(self, api_key: str, webhook_secret: str, *, api_base: str | None = None) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else {},
            max_network_retries=2,
        )
        self._webhook_secret = webhook_secret

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Obj:
        try:
            response = call(*args, **kwargs).last_response  # the JSON Stripe sent, as plain dicts
            result: Obj = json.loads(response.body)
        except stripe.InvalidRequestError as err:
            if err.http_status == 404:
                raise NotFound(f"Stripe has no such object ({what})") from err
            raise PaymentsUnavailable(
                f"Stripe refused to {what} ({err.user_message or 'invalid request'}); nothing was charged."
            ) from err
        except stripe.StripeError as err:
            raise PaymentsUnavailable(
                f"Stripe could not {what} ({err.user_message or type(err).__name__}); nothing was charged. "
                "Try again in a moment."
            ) from err
        return result

    def customer(self, *, email: str, name: str, user_id: str, idempotency_key: str) -> str:
        created = self._call(
            "create your customer record",
            self._client.v1.customers.create,
            {"email": email, "name": name, "metadata": {"user_id": user_id}},
            {"idempotency_key": idempotency_key},
        )
        return str(created["id"])

    def checkout(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: str,
        plan_code: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> HostedPage:
        metadata = {"user_id": user_id, "plan": plan_code}
        created = self._call(
            "open a checkout page",
            self._client.v1.checkout.sessions.create,
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": user_id,
                "line_items": [{"price": price_id, "quantity": 1}],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
            },
            {"idempotency_key": idempotency_key},
        )
        return HostedPage(str(created["id"]), str(created["url"]))

    def checkout_session(self, session_id: str) -> StripeCheckout:
        return read_checkout(
            self._call("read the checkout", self._client.v1.checkout.sessions.retrieve, session_id)
        )

    def portal(self, *, customer_id: str, return_url: str, idempotency_key: str) -> HostedPage:
        created = self._call(
            "open the billing portal",
            self._client.v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url},
            {"idempotency_key": idempotency_key},
        )
        return HostedPage(str(created["id"]), str(created["url"]))

    def subscription(self, subscription_id: str) -> StripeSubscription:
        return read_subscription(
            self._call("read the subscription", self._client.v1.subscriptions.retrieve, subscription_id)
        )

    def invoice(self, invoice_id: str) -> StripeInvoice:
        return read_invoice(self._call("read the invoice", self._client.v1.invoices.retrieve, invoice_id))

    def cancel(self, subscription_id: str, *, idempotency_key: str) -> None:
        self._call(
            "cancel the subscription",
            self._client.v1.subscriptions.cancel,
            subscription_id,
            {},
            {"idempotency_key": idempotency_key},
        )

    def verify(self, payload: bytes, signature: str) -> PaymentEvent:
        try:
            body = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(  # type: ignore[no-untyped-call]
                body, signature, self._webhook_secret, self.TOLERANCE_SECONDS
            )
            event: Obj = json.loads(body)
        except (UnicodeDecodeError, ValueError, stripe.SignatureVerificationError) as err:
            raise BadSignature("The webhook's signature does not verify.") from err
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise BadSignature("The webhook's body is not a Stripe event.")
        return read_event(event)


# --- reading Stripe's JSON --------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """An object's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


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


def read_subscription(subscription: Obj) -> StripeSubscription:
    meta = (subscription.get("metadata") or {}).get("user_id")
    return StripeSubscription(
        id=str(subscription.get("id", "")),
        status=str(subscription.get("status", "")),
        customer_id=_id(subscription.get("customer")),
        user_id=str(meta) if meta else None,
        price_id=_price_id(_first_item(subscription)),
        period=_period(subscription),
        cancelling=bool(subscription.get("cancel_at_period_end")) or bool(subscription.get("cancel_at")),
        latest_invoice_id=_id(subscription.get("latest_invoice")),
    )


def _subscription_line_price(invoice: Obj) -> str | None:
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


def read_invoice(invoice: Obj) -> StripeInvoice:
    status = invoice.get("status")
    return StripeInvoice(
        id=str(invoice["id"]),
        status=str(status) if status is not None else None,
        subscription_id=_id(invoice.get("subscription")),
        price_id=_subscription_line_price(invoice),
        period_start=_invoice_period_start(invoice),
    )


def read_checkout(session: Obj) -> StripeCheckout:
    status, reference = session.get("status"), session.get("client_reference_id")
    return StripeCheckout(
        id=str(session["id"]),
        status=str(status) if status is not None else None,
        client_reference_id=str(reference) if reference is not None else None,
        subscription_id=_id(session.get("subscription")),
    )


def read_event(event: Obj) -> PaymentEvent:
    kind = str(event.get("type", ""))
    obj: Obj = (event.get("data") or {}).get("object") or {}
    is_subscription = kind.startswith("customer.subscription.")
    is_invoice = kind.startswith("invoice.") and _id(obj) is not None
    return PaymentEvent(
        id=str(event["id"]),
        type=kind,
        livemode=bool(event.get("livemode", False)),
        payload=event,
        object_id=_id(obj),
        subscription_id=_id(obj) if is_subscription else _id(obj.get("subscription")),
        subscription=read_subscription(obj) if is_subscription else None,
        invoice=read_invoice(obj) if is_invoice else None,
    )
