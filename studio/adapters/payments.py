"""The seam for payments: Stripe when STRIPE_* is configured, otherwise payments are off.

With payments off, plans are assigned by admins and nothing here is called. Every outgoing call carries
an idempotency key derived from one of our own rows.
"""

from __future__ import annotations

from typing import Protocol


class Payments(Protocol):
    name: str

    def checkout_url(self, *, customer_ref: str, price_id: str, idempotency_key: str) -> str:
        """A hosted checkout page for a subscription to `price_id`."""
        ...

    def portal_url(self, *, customer_id: str) -> str:
        """The hosted page where a customer changes or cancels their subscription."""
        ...
