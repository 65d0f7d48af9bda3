"""The admin services on SQLite and PostgreSQL: figures equal to the hand-worked seed, credit adjustments
atomic with their audit row, plan changes, disabling, models switched off, the queue, and refusals of
anybody who is not an admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from studio.adapters.db.models import AuditLog, CreditLedger, User
from studio.domain.analytics import DateRange
from studio.domain.parameters import Request
from studio.errors import Forbidden, InvalidInput
from studio.services.admin import audit_log, models, queue, users
from studio.services.analytics import admin_analytics, user_stats
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation import catalogue, submissions
from tests.support.admin_seed import DEV, ULTRA, seed
from tests.support.builders import new_user


def make_user(services: Services, name: str, role: str = "user") -> uuid.UUID:
    """An account of long standing (its signup falls outside every range the figures look at)."""
    return new_user(services, name, role=role, created_at=datetime.now(UTC) - timedelta(days=400))


@pytest.fixture
def boss(studio: Services) -> uuid.UUID:
    return make_user(studio, "boss", role="admin")


def audit_rows(services: Services) -> list[AuditLog]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(sa.select(AuditLog).order_by(AuditLog.created_at)))
        uow.session.expunge_all()  # plain values for the assertions, after the session closes
        return rows


# --- analytics --------------------------------------------------------------------------------------------


def test_admin_analytics_equal_the_hand_worked_figures(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    found = admin_analytics.admin_analytics(studio, boss, DateRange(seeded.d1, seeded.d3))
    assert (found.jobs, found.succeeded, found.failed, found.cancelled) == (5, 3, 1, 1)
    assert (found.credits, found.cost_micros, found.active_users, found.new_users) == (10, 160_000, 2, 1)
    assert (found.stripe_revenue_cents, found.assigned_revenue_cents, found.revenue_cents) == (
        1900,
        2900,
        4800,
    )
    assert found.margin == pytest.approx((48 - 0.16) / 48)
    assert (found.failure_rate, found.refund_rate) == (0.2, 0.4)
    assert [(d.jobs, d.active_users, d.credits, d.revenue_cents) for d in found.per_day] == [
        (2, 1, 2, 0),
        (3, 1, 8, 2900),
        (0, 0, 0, 1900),
    ]
    dev, ultra = found.per_model
    assert (dev.endpoint, dev.jobs, dev.succeeded, dev.failed, dev.cancelled, dev.credits) == (
        DEV,
        4,
        2,
        1,
        1,
        4,
    )
    assert dev.p50_ms == pytest.approx(5000)
    assert dev.p95_ms == pytest.approx(5900)
    assert dev.avg_queue_ms == pytest.approx(1150)
    assert dev.avg_run_ms == pytest.approx(11000 / 3)
    assert dev.success_rate == 0.5
    assert (ultra.endpoint, ultra.jobs, ultra.p50_ms, ultra.p95_ms) == (ULTRA, 1, 8000, 8000)
    by_plan = {p.plan: (p.jobs, p.credits, p.cost_micros, p.revenue_cents) for p in found.per_plan}
    assert by_plan == {"pro": (3, 8, 110_000, 2900), "free": (2, 2, 50_000, 0), "no plan": (0, 0, 0, 1900)}
    csv_text = admin_analytics.as_csv(found)
    assert "model,FLUX.1 [dev],fal-ai/flux/dev,4,2,1,1,4,100000,0.5000,5000.0000,5900.0000" in csv_text


def test_the_ranges_leave_out_what_is_outside_them(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    wide = admin_analytics.admin_analytics(studio, boss, DateRange.last_days(45, seeded.d3))
    assert (wide.jobs, wide.credits, wide.active_users) == (6, 12, 2)
    one_day = admin_analytics.admin_analytics(studio, boss, DateRange(seeded.d3, seeded.d3))
    assert (one_day.jobs, one_day.revenue_cents, one_day.margin) == (0, 1900, 1.0)


def test_my_usage_statistics(studio: Services) -> None:
    seeded = seed(studio)
    mine = user_stats.user_stats(studio, seeded.alice, DateRange(seeded.d1, seeded.d3))
    assert (mine.jobs, mine.succeeded, mine.failed, mine.credits, mine.images) == (2, 1, 1, 2, 1)
    assert (mine.success_rate, mine.average_seconds) == (0.5, 5.0)
    assert [(d.jobs, d.credits) for d in mine.per_day] == [(2, 2), (0, 0), (0, 0)]
    assert [(m.name, m.jobs, m.credits) for m in mine.per_model] == [("FLUX.1 [dev]", 2, 2)]


# --- refusals ---------------------------------------------------------------------------------------------


def test_every_admin_service_refuses_a_user(studio: Services) -> None:
    user = make_user(studio, "mallory")
    target = make_user(studio, "victim")
    today = datetime.now(UTC).date()
    calls: list[Any] = [
        lambda: admin_analytics.admin_analytics(studio, user, DateRange(today, today)),
        lambda: users.search_users(studio, user, ""),
        lambda: users.user_detail(studio, user, target),
        lambda: users.adjust_credits(studio, user, target, 100, "gift"),
        lambda: users.change_plan(studio, user, target, "pro"),
        lambda: users.set_disabled(studio, user, target, True),
        lambda: users.resend_verification(studio, user, target),
        lambda: users.plan_choices(studio, user),
        lambda: models.models(studio, user),
        lambda: models.update_model(
            studio, user, DEV, enabled=False, featured=False, credit_cost=1, description=""
        ),
        lambda: queue.queue_overview(studio, user),
        lambda: queue.retry_job(studio, user, uuid.uuid4()),
        lambda: queue.dispatch_again(studio, user, uuid.uuid4()),
        lambda: queue.cancel_job(studio, user, uuid.uuid4()),
        lambda: audit_log.audit_log(studio, user),
        lambda: audit_log.audit_actions(studio, user),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    with studio.uow() as uow:
        assert uow.session.get(User, target) is not None
        assert uow.session.get(User, target).credit_balance == 0  # type: ignore[union-attr]
    assert audit_rows(studio) == []


# --- users ------------------------------------------------------------------------------------------------


def test_search_by_the_start_of_email_username_or_name(studio: Services, boss: uuid.UUID) -> None:
    make_user(studio, "ada")
    make_user(studio, "adele")
    make_user(studio, "bea")
    assert [r.username for r in users.search_users(studio, boss, "ad")] == ["ada", "adele"]
    assert [r.username for r in users.search_users(studio, boss, "ADE")] == ["adele"]  # the name, any case
    assert [r.username for r in users.search_users(studio, boss, "bea@ex")] == ["bea"]
    assert users.search_users(studio, boss, "a%") == []  # LIKE's wildcards are literal


def test_a_credit_adjustment_writes_its_ledger_and_audit_rows(studio: Services, boss: uuid.UUID) -> None:
    target = make_user(studio, "ada")
    assert users.adjust_credits(studio, boss, target, 25, "  goodwill  for the outage ") == 25
    assert users.adjust_credits(studio, boss, target, -5, "typo") == 20
    with pytest.raises(InvalidInput, match="The balance is 20: removing 21 would take it below zero"):
        users.adjust_credits(studio, boss, target, -21, "too much")
    with pytest.raises(InvalidInput, match="Give a reason"):
        users.adjust_credits(studio, boss, target, 5, "  ")
    with studio.uow() as uow:
        rows = uow.session.scalars(sa.select(CreditLedger).where(CreditLedger.user_id == target))
        found = sorted((r.kind, r.delta, r.actor_id, r.reason) for r in rows)
        assert ledger.ledger_sum(uow.session, target) == ledger.balance(uow.session, target) == 20
    assert found == [
        ("adjust", -5, boss, "Adjusted by an admin: typo"),
        ("adjust", 25, boss, "Adjusted by an admin: goodwill for the outage"),
    ]
    audits = audit_rows(studio)
    assert sorted((a.action, a.actor_id, a.target_id, a.reason, a.after["delta"]) for a in audits) == [  # type: ignore[index]
        ("credits.adjust", boss, str(target), "goodwill for the outage", 25),
        ("credits.adjust", boss, str(target), "typo", -5),
    ]
    assert [a.before for a in audits if a.reason == "typo"] == [{"balance": 25}]


def test_a_failure_between_the_ledger_and_the_audit_row_keeps_neither(
    studio: Services, boss: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_user(studio, "ada")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr(users, "audit", broken)
    with pytest.raises(RuntimeError):
        users.adjust_credits(studio, boss, target, 40, "gift")
    with studio.uow() as uow:
        assert ledger.balance(uow.session, target) == 0
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(CreditLedger)) == 0
    assert audit_rows(studio) == []


def test_a_new_plan_starts_a_new_cycle_now(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    users.adjust_credits(studio, boss, seeded.alice, -30, "spent")  # 70 of the free 100 left
    users.change_plan(studio, boss, seeded.alice, "studio")
    detail = users.user_detail(studio, boss, seeded.alice)
    assert (detail.plan_code, detail.user.balance) == ("studio", 1000)
    assert [(r.kind, r.delta) for r in detail.ledger[:2]] in (
        [("grant", 1000), ("expire", -70)],
        [("expire", -70), ("grant", 1000)],
    )
    with pytest.raises(InvalidInput, match="already on the Studio plan"):
        users.change_plan(studio, boss, seeded.alice, "studio")
    plan_change = [a for a in audit_rows(studio) if a.action == "plan.change"]
    assert [(a.before, a.after) for a in plan_change] == [
        ({"plan": "free", "balance": 70}, {"plan": "studio", "balance": 1000})
    ]
    today = datetime.now(UTC).date()
    assert (
        admin_analytics.admin_analytics(studio, boss, DateRange(today, today)).assigned_revenue_cents == 5900
    )


def test_disabling_ends_sessions_and_enabling_restores(studio: Services, boss: uuid.UUID) -> None:
    target = make_user(studio, "ada")
    users.set_disabled(studio, boss, target, True)
    with studio.uow() as uow:
        user = uow.session.get(User, target)
        assert user is not None
        assert (user.disabled_at is not None, user.session_version) == (True, 1)
    with pytest.raises(Forbidden):  # a disabled account cannot generate
        submissions.start_generation(studio, target, Request(DEV, "a cat"), "k1")
    with pytest.raises(InvalidInput, match="your own account"):
        users.set_disabled(studio, boss, boss, True)
    users.set_disabled(studio, boss, target, False)
    assert [a.action for a in audit_rows(studio)] == ["user.disable", "user.enable"]


# --- models -----------------------------------------------------------------------------------------------


def test_a_model_switched_off_is_refused_and_hidden(studio: Services, boss: uuid.UUID) -> None:
    user = make_user(studio, "ada")
    users.adjust_credits(studio, boss, user, 50, "to generate")
    assert models.update_model(
        studio, boss, DEV, enabled=False, featured=True, credit_cost=3, description="Off for now."
    )
    assert DEV not in [m.endpoint_id for m in catalogue.enabled_models(studio)]
    with pytest.raises(InvalidInput, match="is not available"):
        submissions.start_generation(studio, user, Request(DEV, "a cat"), "k1")
    row = next(m for m in models.models(studio, boss) if m.endpoint == DEV)
    assert (row.enabled, row.featured, row.credit_cost, row.description) == (False, True, 3, "Off for now.")
    catalogue.sync_catalogue(studio)  # a restart keeps what the admin set
    row = next(m for m in models.models(studio, boss) if m.endpoint == DEV)
    assert (row.enabled, row.featured, row.credit_cost, row.description) == (False, True, 3, "Off for now.")
    assert not models.update_model(
        studio, boss, DEV, enabled=False, featured=True, credit_cost=3, description="Off for now."
    )
    (entry,) = audit_log.audit_log(studio, boss, action="model.update")
    assert entry.after == {
        "is_enabled": False,
        "is_featured": True,
        "credit_cost": 3,
        "description": "Off for now.",
    }
    models.update_model(studio, boss, DEV, enabled=True, featured=True, credit_cost=3, description="On.")
    job = submissions.start_generation(studio, user, Request(DEV, "a cat"), "k2")
    assert job.credits_reserved == 3


# --- queue ------------------------------------------------------------------------------------------------


def test_retry_cancel_and_dispatch_from_the_queue_page(studio: Services, boss: uuid.UUID) -> None:
    user = make_user(studio, "ada")
    users.adjust_credits(studio, boss, user, 50, "to generate")
    first = submissions.start_generation(studio, user, Request(DEV, "a cat"), "k1")
    assert queue.cancel_job(studio, boss, first.id) == "cancelled"  # waiting: cancelled at once
    with studio.uow() as uow:
        assert ledger.balance(uow.session, user) == 50  # refunded
    retried = queue.retry_job(studio, boss, first.id)
    assert queue.retry_job(studio, boss, first.id) == retried  # once, however often it is pressed
    with pytest.raises(InvalidInput, match="Only a failed or cancelled job"):
        queue.retry_job(studio, boss, retried)
    with studio.uow() as uow:
        assert ledger.balance(uow.session, user) == 50 - first.credits_reserved
    assert queue.dispatch_again(studio, boss, retried) == 2
    overview = queue.queue_overview(studio, boss)
    assert (overview.by_status, overview.backend) == ({"cancelled": 1, "queued": 1}, "fake")
    assert [j.id for j in overview.active] == [retried]
    assert overview.outbox == []
    actions = [e.action for e in audit_log.audit_log(studio, boss)]
    assert sorted(actions) == ["credits.adjust", "job.cancel", "job.dispatch", "job.retry"]
