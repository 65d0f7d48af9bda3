"""Stripe for the tests: localstripe (plus the Checkout/Portal fake) in a subprocess, and the studio's
webhook route served over HTTP so that localstripe can deliver to it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from studio.web import routes
from tests.support.env import ROOT
from tests.support.fal_server import ReadyServer

API_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_studio_tests_0123456789"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then every charge is declined
_START_TIMEOUT = 30.0


class Localstripe:
    """One localstripe process on a loopback port, its store in memory, stopped by close()."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / "stripe_server.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()  # the port, once it has bound
        if not line.isdigit():
            self.close()
            raise RuntimeError("localstripe did not start")
        self.base = f"http://127.0.0.1:{line}"
        self.http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {API_KEY}"})
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                if self.http.get("/v1/customers").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError("localstripe did not answer")
            time.sleep(0.05)

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(path, data=data or {})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, path: str) -> dict[str, Any]:
        response = self.http.get(path)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def deliver_to(self, url: str, secret: str = WEBHOOK_SECRET) -> None:
        """Register a webhook endpoint: every event from now on is POSTed there, signed with `secret`."""
        self.http.post(f"/_config/webhooks/{uuid.uuid4().hex}", data={"url": url, "secret": secret})

    def price(self, name: str, cents: int) -> str:
        """A monthly price (localstripe's plans stand in for prices; their ids are the price ids)."""
        product = self.post("/v1/products", {"name": name})
        price_id = f"price_{name.lower()}_{uuid.uuid4().hex[:8]}"
        self.post(
            "/v1/plans",
            {
                "id": price_id,
                "product": product["id"],
                "amount": cents,
                "currency": "usd",
                "interval": "month",
            },
        )
        return price_id

    def pay(self, checkout_session_id: str, card: str = GOOD_CARD) -> dict[str, Any]:
        """What the customer does on the hosted Checkout page."""
        return self.post(f"/_test/checkout/{checkout_session_id}/pay", {"card": card})

    def set_card(self, customer_id: str, card: str) -> None:
        method = self.post(
            "/v1/payment_methods",
            {"type": "card", "card[number]": card, "card[exp_month]": "12", "card[exp_year]": "2040",
             "card[cvc]": "123"},
        )  # fmt: skip
        self.post(f"/v1/payment_methods/{method['id']}/attach", {"customer": customer_id})
        self.post(f"/v1/customers/{customer_id}", {"invoice_settings[default_payment_method]": method["id"]})

    def renew(self, subscription_id: str) -> dict[str, Any]:
        """The next invoice of a subscription, charged now (what Stripe does at the end of a period)."""
        subscription = self.get(f"/v1/subscriptions/{subscription_id}")
        invoice = self.post(
            "/v1/invoices", {"customer": subscription["customer"], "subscription": subscription_id}
        )
        response = self.http.post(f"/v1/invoices/{invoice['id']}/pay")
        answer: dict[str, Any] = response.json()
        return answer


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """A body and its Stripe-Signature header, made with Stripe's scheme (HMAC-SHA256 of "t.body")."""
    body = json.dumps(event).encode()
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={digest}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


@contextmanager
def studio_routes() -> Iterator[str]:
    """The studio's HTTP routes (the webhook among them) on a loopback port, for the installed services."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Starlette(routes=routes()), log_level="warning", lifespan="off")
    server = ReadyServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(_START_TIMEOUT) or not server.started:
        raise RuntimeError("the studio's routes did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
