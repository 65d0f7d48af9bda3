"""localstripe on a loopback port, plus a small fake of the two Stripe APIs it lacks.

Run as a script by `tests/support/stripe_fake.py`: it prints the port it listens on, then serves until killed.

- localstripe (a third-party Stripe emulator) answers everything it knows: customers, payment methods,
  plans (which stand in for prices), subscriptions, invoices; and it sends signed webhooks.
- It has no Checkout Sessions and no Customer Portal. This file adds `POST/GET /v1/checkout/sessions`
  and `POST /v1/billing_portal/sessions`, answering the way Stripe does (an Idempotency-Key replays the
  first answer), and a test-only `POST /_test/checkout/{id}/pay` that does what paying on the hosted
  page does: attach the card, create the subscription (so localstripe invoices it and sends its events),
  complete the session and send `checkout.session.completed`.

localstripe listens on every interface and saves its store to /tmp on every write; here it listens on
127.0.0.1 only and keeps its store in memory, so parallel runs never share state.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

resources.Store.dump_to_disk = lambda self: None


class CheckoutSession(resources.StripeObject):  # type: ignore[misc]
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, base_url: str, **data: Any) -> None:
        super().__init__()
        line_items = data.get("line_items") or []
        if data.get("mode") != "subscription" or len(line_items) != 1 or not data.get("customer"):
            raise UserError(400, "Bad request: one subscription price and an existing customer are required")
        resources.Plan._api_retrieve(line_items[0]["price"])  # 404 for an unknown price
        resources.Customer._api_retrieve(data["customer"])
        self.mode = "subscription"
        self.customer = data["customer"]
        self.client_reference_id = data.get("client_reference_id")
        self.metadata = data.get("metadata") or {}
        self.subscription_metadata = (data.get("subscription_data") or {}).get("metadata") or {}
        self.price = line_items[0]["price"]
        self.success_url = data.get("success_url")
        self.cancel_url = data.get("cancel_url")
        self.status = "open"
        self.payment_status = "unpaid"
        self.subscription: str | None = None
        self.invoice: str | None = None
        self.url = f"{base_url}/pay/{self.id}"


_replies: dict[str, dict[str, Any]] = {}


def _json(body: dict[str, Any]) -> web.Response:
    response: web.Response = server.json_response(body)
    return response


async def _idempotent(request: web.Request, make: Any) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    if key and key in _replies:
        return _json(_replies[key])
    data = await server.get_post_data(request) or {}
    reply = make(data)
    if key:
        _replies[key] = reply
    return _json(reply)


def _base(request: web.Request) -> str:
    return f"http://{request.host}"


async def create_checkout(request: web.Request) -> web.Response:
    return await _idempotent(request, lambda data: CheckoutSession(_base(request), **data)._export())


async def get_checkout(request: web.Request) -> web.Response:
    return _json(CheckoutSession._api_retrieve(request.match_info["id"])._export())


async def create_portal(request: web.Request) -> web.Response:
    def make(data: dict[str, Any]) -> dict[str, Any]:
        resources.Customer._api_retrieve(data.get("customer", ""))
        stamp = int(time.time() * 1000)
        return {
            "id": f"bps_{stamp}",
            "object": "billing_portal.session",
            "customer": data["customer"],
            "return_url": data.get("return_url"),
            "url": f"{_base(request)}/portal/{data['customer']}",
        }

    return await _idempotent(request, make)


async def pay_checkout(request: web.Request) -> web.Response:
    """What the customer does on the hosted page: pay with a card (declined ones fail like Stripe's)."""
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    data = await server.get_post_data(request) or {}
    if session.status != "open":
        raise UserError(400, "This checkout is not open")
    card = {"number": data.get("card", "4242424242424242"), "exp_month": 12, "exp_year": 2040, "cvc": "123"}
    method = resources.PaymentMethod(type="card", card=card)
    resources.PaymentMethod._api_attach(method.id, customer=session.customer)
    resources.Customer._api_update(session.customer, invoice_settings={"default_payment_method": method.id})
    subscription = resources.Subscription(
        customer=session.customer,
        items=[{"plan": session.price}],
        metadata=session.subscription_metadata,
        payment_behavior="error_if_incomplete",
    )
    session.subscription = subscription.id
    session.invoice = subscription.latest_invoice
    session.status = "complete"
    session.payment_status = "paid"
    schedule_webhook(resources.Event("checkout.session.completed", session))
    return _json(session._export())


def main() -> None:
    server.app.router.add_post("/v1/checkout/sessions", create_checkout)
    server.app.router.add_get("/v1/checkout/sessions/{id}", get_checkout)
    server.app.router.add_post("/v1/billing_portal/sessions", create_portal)
    server.app.router.add_post("/_test/checkout/{id}/pay", pay_checkout)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
