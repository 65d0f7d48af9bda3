"""The seam for payments: Stripe when STRIPE_SECRET_KEY is set, otherwise payments are off.

With payments off, plans are assigned by admins and nothing here is called. Every call that creates
something at Stripe carries an idempotency key derived from one of our own rows, so a retried request
(ours or the library's own network retries) never makes a second customer, session or cancellation.
Objects come back as plain dicts: the services read them, never the library's types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from studio.errors import NotFound, StudioError

Obj = dict[str, Any]


class PaymentsUnavailable(StudioError):
    """Stripe could not be reached or refused the request; nothing was charged."""


class BadSignature(StudioError):
    """A webhook whose signature does not verify (wrong secret, altered body or too old)."""


@dataclass(frozen=True)
class HostedPage:
    id: str
    url: str


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

    def checkout_session(self, session_id: str) -> Obj: ...

    def portal(self, *, customer_id: str, return_url: str, idempotency_key: str) -> HostedPage:
        """The Customer Portal, where a customer changes or cancels their subscription."""
        ...

    def subscription(self, subscription_id: str) -> Obj: ...

    def invoice(self, invoice_id: str) -> Obj: ...

    def cancel(self, subscription_id: str, *, idempotency_key: str) -> None:
        """End a subscription now (the account is being deleted)."""
        ...

    def verify(self, payload: bytes, signature: str) -> Obj:
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

    def checkout_session(self, session_id: str) -> Obj:
        return self._call("read the checkout", self._client.v1.checkout.sessions.retrieve, session_id)

    def portal(self, *, customer_id: str, return_url: str, idempotency_key: str) -> HostedPage:
        created = self._call(
            "open the billing portal",
            self._client.v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url},
            {"idempotency_key": idempotency_key},
        )
        return HostedPage(str(created["id"]), str(created["url"]))

    def subscription(self, subscription_id: str) -> Obj:
        return self._call("read the subscription", self._client.v1.subscriptions.retrieve, subscription_id)

    def invoice(self, invoice_id: str) -> Obj:
        return self._call("read the invoice", self._client.v1.invoices.retrieve, invoice_id)

    def cancel(self, subscription_id: str, *, idempotency_key: str) -> None:
        self._call(
            "cancel the subscription",
            self._client.v1.subscriptions.cancel,
            subscription_id,
            {},
            {"idempotency_key": idempotency_key},
        )

    def verify(self, payload: bytes, signature: str) -> Obj:
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
        return event
