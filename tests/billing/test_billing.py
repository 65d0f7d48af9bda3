"""Paid plans against localstripe: upgrade through Checkout (our fake of that one API), renewal on each
paid invoice, cancellation back to free, failed payments, and the webhook's signature and de-duplication.

Events reach the studio the way Stripe sends them: localstripe POSTs signed webhooks to the studio's
route served over HTTP. Where localstripe sends no event (it has no `customer.subscription.updated`),
the test signs one with Stripe's scheme from the subscription localstripe holds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import sqlalchemy as sa

from studio.adapters.db.models import CheckoutSession, CreditLedger, Plan, StripeEvent, Subscription, User
from studio.domain.credits import LedgerKind
from studio.domain.parameters import Request
from studio.errors import InsufficientCredits, InvalidInput, NotFound
from studio.services.billing import checkout, overview, plans
from studio.services.billing.ledger import change_balance
from studio.services.context import Services
from studio.services.generation import submissions
from studio.web.stripe_webhook import answer as webhook_answer
from tests.support.builders import ledger_counts, new_user
from tests.support.env import wait_for
from tests.support.services import embedded_settings, installed
from tests.support.stripe_fake import (
    API_KEY,
    DECLINED_CARD,
    WEBHOOK_SECRET,
    Localstripe,
    event,
    signed,
    studio_routes,
)

PRICES = {"starter": 1900, "pro": 2900, "studio": 5900}


@pytest.fixture
def shop(tmp_path: Path, postgres_url: str, stripe_api: Localstripe) -> Iterator[Services]:
    """The studio with payments on, on PostgreSQL, its webhook route registered with localstripe."""
    prices = {code: stripe_api.price(code, cents) for code, cents in PRICES.items()}
    settings = embedded_settings(
        tmp_path / "data",
        database_url=postgres_url,
        secret_key="s" * 48,
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_api.base,
        stripe_price_starter=prices["starter"],
        stripe_price_pro=prices["pro"],
        stripe_price_studio=prices["studio"],
    )
    with installed(settings, start=False) as services:
        services.database.migrate()
        plans.sync_plans(services)
        with studio_routes() as base:
            stripe_api.deliver_to(f"{base}/api/stripe/webhook")
            yield services


def balance(services: Services, user_id: uuid.UUID) -> int:
    with services.uow() as uow:
        cached = uow.session.scalar(sa.select(User.credit_balance).where(User.id == user_id))
        summed = uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(CreditLedger.delta), 0)).where(
                CreditLedger.user_id == user_id
            )
        )
    assert cached == summed, "the cached balance must equal the ledger's sum"
    return int(cached or 0)


def subscription(services: Services, user_id: uuid.UUID) -> Subscription:
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(Subscription).where(Subscription.user_id == user_id))
        assert row is not None
        uow.session.expunge(row)
        return row


def plan_code(services: Services, user_id: uuid.UUID) -> str:
    return overview.billing(services, user_id).plan_code


def handled(services: Services, user_id: uuid.UUID, kind: str, count: int = 1) -> bool:
    """`count` events of `kind` about this account's customer are handled (the database is shared by
    the tests, so events are told apart by customer)."""
    with services.uow() as uow:
        customer = uow.session.scalar(sa.select(User.stripe_customer_id).where(User.id == user_id))
        payloads = uow.session.scalars(
            sa.select(StripeEvent.payload).where(
                StripeEvent.type == kind, StripeEvent.processed_at.is_not(None)
            )
        )
        done = sum(1 for payload in payloads if payload["data"]["object"].get("customer") == customer)
    return customer is not None and done >= count


def upgrade(services: Services, stripe_api: Localstripe, user_id: uuid.UUID, plan: str = "pro") -> str:
    """Upgrade through Checkout: the URL, paying on the hosted page, the webhooks. Returns the session id."""
    url = checkout.start_checkout(services, user_id, plan)
    session_id = url.rsplit("/", 1)[1]
    stripe_api.pay(session_id)
    wait_for(lambda: handled(services, user_id, "checkout.session.completed"), timeout=20)
    wait_for(lambda: handled(services, user_id, "invoice.payment_succeeded"), timeout=20)
    wait_for(lambda: handled(services, user_id, "customer.subscription.created"), timeout=20)
    return session_id


def stripe_subscription_id(services: Services, user_id: uuid.UUID) -> str:
    found = subscription(services, user_id).stripe_subscription_id
    assert found is not None
    return found


class Answer(NamedTuple):
    status: int
    message: str


def post(services: Services, body: bytes, header: str) -> Answer:
    """What the webhook route answers Stripe (the service's outcome or error, as a status and a text)."""
    return Answer(*webhook_answer(services, body, header))


# --- the lifecycle against localstripe ------------------------------------------------------------------


def test_upgrade_grants_the_plan_once_and_renewals_reset_the_credits(
    shop: Services, stripe_api: Localstripe
) -> None:
    user_id = new_user(shop, free_plan=True)
    upgrade(shop, stripe_api, user_id, "pro")
    assert plan_code(shop, user_id) == "pro"
    # The free cycle's 100 expired when the paid one began; the plan's 500 were granted once, although
    # both invoice.payment_succeeded and the checkout completion announced the same invoice.
    assert ledger_counts(shop, user_id) == Counter(
        {("grant", 100): 1, ("expire", -100): 1, ("grant", 500): 1}
    )
    assert balance(shop, user_id) == 500
    with shop.uow() as uow:
        attempt = uow.session.scalar(sa.select(CheckoutSession).where(CheckoutSession.user_id == user_id))
        assert attempt is not None
        assert attempt.completed_at is not None

    # Spend some, then the next invoice: unused credits expire and the plan's are granted again.
    generation_spend(shop, user_id, 120)
    assert balance(shop, user_id) == 380
    invoice = stripe_api.renew(stripe_subscription_id(shop, user_id))
    assert invoice["status"] == "paid"
    wait_for(lambda: handled(shop, user_id, "invoice.payment_succeeded", 2), timeout=20)
    assert balance(shop, user_id) == 500
    assert ledger_counts(shop, user_id)[("expire", -380)] == 1
    assert ledger_counts(shop, user_id)[("grant", 500)] == 2


def generation_spend(services: Services, user_id: uuid.UUID, credits: int) -> None:
    with services.uow() as uow:
        change_balance(uow.session, user_id, -credits, LedgerKind.SETTLE, "test: images")
        uow.commit()


def test_returning_from_checkout_applies_it_before_the_webhook(
    shop: Services, stripe_api: Localstripe
) -> None:
    user_id = new_user(shop, free_plan=True)
    url = checkout.start_checkout(shop, user_id, "starter")
    assert checkout.start_checkout(shop, user_id, "starter") == url  # a second click: the same page
    session_id = url.rsplit("/", 1)[1]
    stripe_api.pay(session_id)
    # Webhooks are delivered a second later; the return page asks Stripe at once.
    message = checkout.confirm_checkout(shop, user_id, session_id)
    assert "your plan is active" in message
    assert plan_code(shop, user_id) == "starter"
    assert balance(shop, user_id) == 300
    wait_for(lambda: handled(shop, user_id, "checkout.session.completed"), timeout=20)
    wait_for(lambda: handled(shop, user_id, "invoice.payment_succeeded"), timeout=20)
    assert ledger_counts(shop, user_id)[("grant", 300)] == 1  # the webhooks found it done
    assert balance(shop, user_id) == 300


def test_someone_elses_checkout_is_refused(shop: Services, stripe_api: Localstripe) -> None:
    owner, other = new_user(shop, free_plan=True), new_user(shop, free_plan=True)
    session_id = checkout.start_checkout(shop, owner, "pro").rsplit("/", 1)[1]
    stripe_api.pay(session_id)
    with pytest.raises(NotFound):
        checkout.confirm_checkout(shop, other, session_id)
    assert plan_code(shop, other) == "free"


def test_a_paid_account_changes_its_plan_in_the_portal(shop: Services, stripe_api: Localstripe) -> None:
    user_id = new_user(shop, free_plan=True)
    upgrade(shop, stripe_api, user_id, "starter")
    with pytest.raises(InvalidInput, match="Manage billing"):
        checkout.start_checkout(shop, user_id, "pro")
    url = checkout.portal_url(shop, user_id)
    assert url.endswith("/portal/" + str(billing_customer(shop, user_id)))
    assert checkout.portal_url(shop, user_id) == url  # one portal session per account and window


def billing_customer(services: Services, user_id: uuid.UUID) -> str:
    with services.uow() as uow:
        customer = uow.session.scalar(sa.select(User.stripe_customer_id).where(User.id == user_id))
    assert customer is not None
    return customer


def test_cancel_keeps_the_plan_until_the_period_ends_then_free(
    shop: Services, stripe_api: Localstripe
) -> None:
    user_id = new_user(shop, free_plan=True)
    upgrade(shop, stripe_api, user_id, "pro")
    sub_id = stripe_subscription_id(shop, user_id)
    # In the portal: "cancel at the end of the period". localstripe sends no `updated`; Stripe would.
    changed = stripe_api.post(f"/v1/subscriptions/{sub_id}", {"cancel_at_period_end": "true"})
    assert post(shop, *signed(event("customer.subscription.updated", changed))).status == 200
    state = overview.billing(shop, user_id)
    assert (state.plan_code, state.cancel_at_period_end) == ("pro", True)
    assert state.notice is not None
    assert "ends on" in state.notice
    assert balance(shop, user_id) == 500
    # The period ends: Stripe deletes the subscription.
    stripe_api.http.delete(f"/v1/subscriptions/{sub_id}").raise_for_status()
    wait_for(lambda: handled(shop, user_id, "customer.subscription.deleted"), timeout=20)
    assert plan_code(shop, user_id) == "free"
    assert subscription(shop, user_id).stripe_subscription_id is None
    assert balance(shop, user_id) == 100
    assert ledger_counts(shop, user_id)[("expire", -500)] == 1
    # The same deletion again changes nothing.
    again = stripe_api.get(f"/v1/subscriptions/{sub_id}")
    assert post(shop, *signed(event("customer.subscription.deleted", again))).status == 200
    assert balance(shop, user_id) == 100
    assert ledger_counts(shop, user_id)[("grant", 100)] == 2


def test_a_failed_renewal_shows_a_banner_and_keeps_the_plan(shop: Services, stripe_api: Localstripe) -> None:
    user_id = new_user(shop, free_plan=True)
    upgrade(shop, stripe_api, user_id, "pro")
    stripe_api.set_card(billing_customer(shop, user_id), DECLINED_CARD)
    invoice = stripe_api.renew(stripe_subscription_id(shop, user_id))
    assert invoice["status"] == "open"  # the charge was declined
    # localstripe sends no event for a declined invoice payment; Stripe sends invoice.payment_failed.
    failed = event("invoice.payment_failed", stripe_api.get(f"/v1/invoices/{invoice['id']}"))
    assert post(shop, *signed(failed)).message == "payment failed"
    state = overview.billing(shop, user_id)
    assert state.payment_failed
    assert state.plan_code == "pro"
    assert overview.notice(shop, user_id) == state.notice
    assert state.notice is not None
    assert "payment for the Pro plan failed" in state.notice
    assert balance(shop, user_id) == 500  # nothing granted for an unpaid invoice, nothing taken either


# --- the webhook: signatures, duplicates, order ------------------------------------------------------------


def test_signatures_are_checked_with_stripes_scheme(shop: Services, stripe_api: Localstripe) -> None:
    with studio_routes() as base:
        url = f"{base}/api/stripe/webhook"
        body, header = signed(event("customer.created", {"id": "cus_x"}))
        assert httpx.post(url, content=body, headers={"Stripe-Signature": header}).status_code == 200
        wrong_body, wrong = signed(event("customer.created", {"id": "cus_y"}), secret="whsec_someone_else")
        assert httpx.post(url, content=wrong_body, headers={"Stripe-Signature": wrong}).status_code == 400
        stale_body, stale = signed(event("customer.created", {"id": "cus_z"}), at=int(time.time()) - 600)
        assert httpx.post(url, content=stale_body, headers={"Stripe-Signature": stale}).status_code == 400
        assert httpx.post(url, content=body + b" ", headers={"Stripe-Signature": header}).status_code == 400
        assert httpx.post(url, content=body).status_code == 400
        assert (
            httpx.post(url, content=b"x" * 2_000_000, headers={"Stripe-Signature": header}).status_code == 413
        )
    with shop.uow() as uow:
        recorded = list(uow.session.scalars(sa.select(StripeEvent.payload)))
    ids = {payload["data"]["object"]["id"] for payload in recorded if payload["type"] == "customer.created"}
    assert "cus_y" not in ids
    assert "cus_z" not in ids


def test_the_same_event_ten_times_is_credited_once(shop: Services, stripe_api: Localstripe) -> None:
    user_id = new_user(shop, free_plan=True)
    upgrade(shop, stripe_api, user_id, "starter")
    sub_id = stripe_subscription_id(shop, user_id)
    invoice = stripe_api.renew(sub_id)
    paid = event("invoice.paid", stripe_api.get(f"/v1/invoices/{invoice['id']}"))
    body, header = signed(paid)
    results: list[int] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        barrier.wait()
        results.append(post(shop, body, header).status)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 10
    wait_for(lambda: handled(shop, user_id, "invoice.payment_succeeded", 2), timeout=20)
    # invoice.paid and invoice.payment_succeeded name the same invoice: one grant for it in all.
    assert ledger_counts(shop, user_id)[("grant", 300)] == 2  # the first invoice and this renewal
    assert balance(shop, user_id) == 300
    with shop.uow() as uow:
        copies = uow.session.scalar(
            sa.select(sa.func.count()).select_from(StripeEvent).where(StripeEvent.event_id == paid["id"])
        )
    assert copies == 1


def test_updated_before_created_ends_in_the_right_state(shop: Services, stripe_api: Localstripe) -> None:
    """Deliveries out of order: the handlers read the subscription as Stripe has it now."""
    user_id = new_user(shop, free_plan=True)
    customer = stripe_api.post("/v1/customers", {"email": "late@example.org"})
    with shop.uow() as uow:
        uow.session.execute(
            sa.update(User).where(User.id == user_id).values(stripe_customer_id=customer["id"])
        )
        uow.commit()
    stripe_api.set_card(customer["id"], "4242424242424242")
    prices = {plan.code: plan for plan in overview.billing(shop, user_id).offers}
    assert prices["pro"].purchasable
    created = stripe_api.post(
        "/v1/subscriptions",
        {
            "customer": customer["id"],
            "items[0][plan]": price_of(shop, "pro"),
            "metadata[user_id]": str(user_id),
        },
    )
    updated = stripe_api.post(f"/v1/subscriptions/{created['id']}", {"cancel_at_period_end": "true"})
    # `updated` first, then the older `created` snapshot (not yet cancelling).
    assert post(shop, *signed(event("customer.subscription.updated", updated))).status == 200
    assert post(shop, *signed(event("customer.subscription.created", created))).status == 200
    state = overview.billing(shop, user_id)
    assert (state.plan_code, state.cancel_at_period_end) == ("pro", True)
    # The invoice's event, whenever it arrives, grants once.
    wait_for(lambda: ledger_counts(shop, user_id)[("grant", 500)] == 1, timeout=20)
    assert balance(shop, user_id) == 500


def price_of(services: Services, code: str) -> str:
    with services.uow() as uow:
        price = uow.session.scalar(sa.select(Plan.stripe_price_id).where(Plan.code == code))
    assert price is not None
    return price


def test_an_event_for_an_unknown_customer_changes_nothing(shop: Services, stripe_api: Localstripe) -> None:
    stranger = stripe_api.post("/v1/customers", {"email": "stranger@example.org"})
    stripe_api.set_card(stranger["id"], "4242424242424242")
    foreign = stripe_api.post(
        "/v1/subscriptions",
        {
            "customer": stranger["id"],
            "items[0][plan]": price_of(shop, "pro"),
            "metadata[user_id]": str(uuid.uuid4()),
        },
    )
    result = post(shop, *signed(event("customer.subscription.created", foreign)))
    assert (result.status, result.message) == (200, "unknown customer")
    with shop.uow() as uow:
        granted = uow.session.scalar(
            sa.select(sa.func.count()).select_from(CreditLedger).where(CreditLedger.ref_id == foreign["id"])
        )
    assert granted == 0


# --- with payments off ---------------------------------------------------------------------------------


def test_with_payments_off_the_studio_says_so(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        user_id = new_user(services, free_plan=True)
        state = overview.billing(services, user_id)
        assert not state.payments_on
        assert not any(offer.purchasable for offer in state.offers)
        with pytest.raises(InvalidInput, match="Payments are off"):
            checkout.start_checkout(services, user_id, "pro")
        result = post(services, *signed(event("invoice.paid", {"id": "in_x"})))
        assert result.status == 404


def test_generation_is_refused_at_zero_with_the_renewal_date(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        user_id = new_user(services, free_plan=True)
        generation_spend(services, user_id, 100)
        with pytest.raises(InsufficientCredits) as refused:
            submissions.start_generation(services, user_id, Request("fal-ai/flux/dev", "a fox"), "k1")
        renews = subscription(services, user_id).current_period_end
        assert refused.value.renews_on == renews.date()
        assert f"Upgrade your plan, or wait until {renews:%d %B %Y}" in str(refused.value)
