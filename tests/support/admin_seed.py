"""A small data set for the analytics tests, with every figure worked out by hand below.

Days are relative to today (UTC): D1 = today - 2, D2 = today - 1, D3 = today. Seen over D1..D3:
- alice (free plan, created on D1) ran 2 jobs of FLUX.1 [dev] on D1: one succeeded (2 credits, $0.05,
  queue 1 s, run 4 s), one failed (queue 0.5 s, run 1 s);
- bob (created 60 days ago, put on Pro by an admin on D2: $29.00) ran on D2 an ultra job (6 credits, $0.06,
  queue 2 s, run 8 s), a FLUX.1 [dev] job (2 credits, $0.05, queue 3 s, run 6 s) and one he cancelled
  (queue 0.1 s, no run);
- a Stripe invoice of $19.00 paid on D3 (its two events count once), for a subscription we do not hold;
- one more job of alice 40 days ago, outside every range below 40 days.

So over D1..D3: 5 jobs, 3 succeeded, 1 failed, 1 cancelled; 10 credits; cost $0.16 (160,000 micros);
revenue $48.00 (4,800 cents); margin (48 - 0.16) / 48; 2 active users; failure rate 20 %, refunds 40 %.
FLUX.1 [dev]: 4 jobs, p50 5 s, p95 5.9 s (4 s and 6 s), queue 1.15 s and run 3.667 s on average.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from studio.adapters.db.models import CreditLedger, Plan, StripeEvent, Subscription, UsageLog, User
from studio.domain.credits import LedgerKind
from studio.services.billing import ledger, plans
from studio.services.context import Services

DEV, ULTRA = "fal-ai/flux/dev", "fal-ai/flux-pro/v1.1-ultra"


@dataclass(frozen=True)
class Seeded:
    alice: uuid.UUID
    bob: uuid.UUID
    d1: date
    d3: date


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _user(services: Services, name: str, created: datetime) -> uuid.UUID:
    with services.uow() as uow:
        user = User(email=f"{name}@example.org", username=name, name=name.title(), created_at=created)
        uow.users.add(user)
        plans.start_free_plan(uow.session, user.id, created)
        uow.commit()
        return user.id


def seed(services: Services) -> Seeded:
    plans.sync_plans(services)
    d3 = datetime.now(UTC).date()
    d1, d2 = d3 - timedelta(days=2), d3 - timedelta(days=1)
    alice = _user(services, "alice", at(d1, 8))
    bob = _user(services, "bob", at(d3 - timedelta(days=60), 8))
    logs = [
        (alice, DEV, "succeeded", 2, 50_000, 1000, 4000, at(d1, 9)),
        (alice, DEV, "failed", 0, 0, 500, 1000, at(d1, 10)),
        (bob, ULTRA, "succeeded", 6, 60_000, 2000, 8000, at(d2, 11)),
        (bob, DEV, "succeeded", 2, 50_000, 3000, 6000, at(d2, 12)),
        (bob, DEV, "cancelled", 0, 0, 100, None, at(d2, 13)),
        (alice, DEV, "succeeded", 2, 50_000, 1000, 4000, at(d3 - timedelta(days=40), 9)),
    ]
    with services.uow() as uow:
        session = uow.session
        for user, model, outcome, spent, cost, wait, run, when in logs:
            session.add(
                UsageLog(
                    user_id=user,
                    model_endpoint=model,
                    operation="text_to_image",
                    outcome=outcome,
                    images=1 if outcome == "succeeded" else 0,
                    credits=spent,
                    provider_cost_micros=cost,
                    queue_wait_ms=wait,
                    run_ms=run,
                    created_at=when,
                )
            )
        pro = session.scalar(sa.select(Plan).where(Plan.code == "pro"))
        assert pro is not None
        # As an admin's assignment does: the Pro cycle starts on D2. (Left on the free cycle that began 60
        # days ago, the renewal pass the embedded app runs every few seconds would renew it as Pro today,
        # a second $29 in the range whenever it ran before the page read the figures.)
        session.execute(
            sa.update(Subscription)
            .where(Subscription.user_id == bob)
            .values(
                plan_id=pro.id,
                current_period_start=at(d2, 10),
                current_period_end=at(d2, 10) + timedelta(days=30),
            )
        )
        grant = ledger.change_balance(
            session, bob, pro.monthly_credits, LedgerKind.GRANT, "Pro plan", ref_type="plan", ref_id="pro"
        )
        assert grant is not None
        grant.created_at = at(d2, 10)
        for n, kind in enumerate(("invoice.paid", "invoice.payment_succeeded")):
            session.add(
                StripeEvent(
                    event_id=f"evt_{uuid.uuid4().hex}_{n}",
                    type=kind,
                    received_at=at(d3, 1),
                    payload={
                        "data": {"object": {"id": "in_1", "amount_paid": 1900, "subscription": "sub_x"}}
                    },
                )
            )
        uow.commit()
    return Seeded(alice, bob, d1, d3)


def grants(services: Services, user_id: uuid.UUID) -> list[int]:
    with services.uow() as uow:
        return list(
            uow.session.scalars(
                sa.select(CreditLedger.delta)
                .where(CreditLedger.user_id == user_id)
                .order_by(CreditLedger.created_at)
            )
        )
