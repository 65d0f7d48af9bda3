"""Plans: the margin of every paid plan, free cycles that renew across month ends (with time travel), and
the ledger staying the only truth under concurrency."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from studio.adapters.db.models import Subscription
from studio.domain.catalogue import CATALOGUE
from studio.domain.credits import LedgerKind
from studio.domain.plans import PLANS, PlanSpec, add_months, full_use_cost_micros, margin
from studio.errors import InsufficientCredits
from studio.services.billing import ledger, plans
from studio.services.context import Services
from tests.support.builders import ledger_counts, new_user
from tests.support.env import ROOT
from tests.support.services import embedded_settings, installed


def cycle_end(services: Services, user_id: uuid.UUID) -> datetime:
    with services.uow() as uow:
        end = uow.session.scalar(
            sa.select(Subscription.current_period_end).where(Subscription.user_id == user_id)
        )
        assert end is not None
        return end


def spend(services: Services, user_id: uuid.UUID, amount: int) -> None:
    with services.uow() as uow:
        ledger.change_balance(uow.session, user_id, -amount, LedgerKind.RESERVE, "test spend")
        uow.commit()


def balance(services: Services, user_id: uuid.UUID) -> tuple[int, int]:
    with services.uow() as uow:
        return ledger.balance(uow.session, user_id), ledger.ledger_sum(uow.session, user_id)


@pytest.mark.parametrize("plan", [plan for plan in PLANS if not plan.is_free], ids=lambda p: p.code)
def test_every_paid_plan_keeps_half_its_price_at_full_use_of_any_model(plan: PlanSpec) -> None:
    costs = [full_use_cost_micros(plan, spec) for spec in CATALOGUE]
    assert min(margin(plan, cost) for cost in costs) >= 0.5


def test_the_readme_margin_table_matches_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text()
    for plan in PLANS:
        if plan.is_free:
            continue
        costs = sorted(full_use_cost_micros(plan, spec) for spec in CATALOGUE)
        row = (
            f"| {plan.name} | ${plan.price_cents / 100:.2f} | {plan.monthly_credits:,} | "
            f"${costs[0] / 1e6:.2f} | ${costs[-1] / 1e6:.2f} | {margin(plan, costs[-1]):.1%} |"
        )
        assert row in readme, row


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2027-01-31", ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]),
        ("2028-01-31", ["2028-02-29", "2028-03-31"]),
        ("2027-12-15", ["2028-01-15", "2028-02-15"]),
        ("2027-11-30", ["2027-12-30", "2028-01-30", "2028-02-29", "2028-03-30"]),
    ],
)
def test_cycles_keep_their_day_across_short_months(start: str, expected: list[str]) -> None:
    moment = datetime.fromisoformat(start).replace(tzinfo=UTC)
    ends = []
    for _ in expected:
        moment = add_months(moment, 1, int(start[-2:]))
        ends.append(moment.date().isoformat())
    assert ends == expected


def test_a_free_cycle_renews_at_its_end_expiring_what_was_left(studio: Services) -> None:
    with time_machine.travel(datetime(2027, 1, 31, 9, 0, tzinfo=UTC), tick=False) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        spend(studio, user_id, 30)
        assert cycle_end(studio, user_id) == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
        clock.move_to(datetime(2027, 2, 28, 8, 59, tzinfo=UTC))
        assert not plans.renew_if_due(studio, user_id)
        clock.move_to(datetime(2027, 2, 28, 9, 0, tzinfo=UTC))
        assert plans.renew_if_due(studio, user_id)
        assert not plans.renew_if_due(studio, user_id)  # once
        assert ledger_counts(studio, user_id) == Counter(
            {("grant", 100): 2, ("reserve", -30): 1, ("expire", -70): 1}
        )
        assert balance(studio, user_id) == (100, 100)
        assert cycle_end(studio, user_id) == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)  # back on the 31st


def test_months_without_a_visit_renew_once_into_the_current_cycle(studio: Services) -> None:
    with time_machine.travel(datetime(2027, 1, 10, tzinfo=UTC), tick=False) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        clock.move_to(datetime(2027, 5, 20, tzinfo=UTC))
        assert plans.renew_if_due(studio, user_id)
        assert ledger_counts(studio, user_id) == Counter({("grant", 100): 2, ("expire", -100): 1})
        assert cycle_end(studio, user_id) == datetime(2027, 6, 10, tzinfo=UTC)


def test_the_scheduled_pass_renews_every_due_cycle_and_nothing_else(studio: Services) -> None:
    with time_machine.travel(datetime(2027, 3, 1, tzinfo=UTC), tick=False) as clock:
        early = new_user(studio, "early", verified=False, free_plan=True)
        clock.move_to(datetime(2027, 3, 20, tzinfo=UTC))
        late = new_user(studio, "late", verified=False, free_plan=True)
        clock.move_to(datetime(2027, 4, 2, tzinfo=UTC))
        assert plans.renew_due(studio) == 1
        assert plans.renew_due(studio) == 0
        assert ledger_counts(studio, early) == Counter({("grant", 100): 2, ("expire", -100): 1})
        assert ledger_counts(studio, late) == Counter({("grant", 100): 1})


def test_concurrent_renewals_grant_once(studio: Services) -> None:
    with time_machine.travel(datetime(2027, 1, 5, tzinfo=UTC), tick=False) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        clock.move_to(datetime(2027, 2, 6, tzinfo=UTC))
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda: results.append(plans.renew_if_due(studio, user_id)))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(True) == 1
        assert ledger_counts(studio, user_id) == Counter({("grant", 100): 2, ("expire", -100): 1})


def test_a_hundred_parallel_reservations_on_thirty_credits(postgres_services: Services) -> None:
    """PostgreSQL, 100 threads each with its own transaction: exactly 30 one-credit holds succeed."""
    services = postgres_services
    user_id = new_user(services, "ada", verified=False, free_plan=True)
    spend(services, user_id, 70)  # 30 left
    barrier = threading.Barrier(100)
    outcomes: list[str] = []

    def reserve() -> None:
        barrier.wait()
        try:
            spend(services, user_id, 1)
            outcomes.append("held")
        except InsufficientCredits:
            outcomes.append("refused")

    threads = [threading.Thread(target=reserve) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("held") == 30
    assert outcomes.count("refused") == 70
    assert balance(services, user_id) == (0, 0)


@pytest.fixture
def postgres_services(tmp_path: Path, postgres_url: str) -> Iterator[Services]:
    settings = embedded_settings(tmp_path / "data", database_url=postgres_url, secret_key="s" * 48)
    with installed(settings, start=False) as services:
        services.database.migrate()
        plans.sync_plans(services)
        yield services


def test_plans_are_seeded_once_and_keep_what_admins_changed(studio: Services) -> None:
    with studio.uow() as uow:
        uow.session.execute(sa.text("UPDATE plans SET monthly_credits = 350 WHERE code = 'starter'"))
        uow.commit()
    plans.sync_plans(studio)
    with studio.uow() as uow:
        found = uow.session.execute(sa.text("SELECT code, monthly_credits FROM plans"))
        rows = {str(code): int(amount) for code, amount in found}
    assert rows == {"free": 100, "starter": 350, "pro": 500, "studio": 1000}


def test_the_hourly_pass_is_queued_once_per_hour_and_renews_due_cycles(studio: Services) -> None:
    from studio import jobs
    from studio.duties import Duties
    from tests.support.fakes import FakeQueue

    queue = FakeQueue()
    studio.queue = queue
    with time_machine.travel(datetime(2027, 6, 1, 10, 30, tzinfo=UTC), tick=False) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        clock.move_to(datetime(2027, 7, 1, 10, 30, tzinfo=UTC))
        first, second = Duties(studio), Duties(studio)  # two processes: one queues the slot's pass
        first.tick()
        second.tick()
        slot = int(datetime(2027, 7, 1, 10, 30, tzinfo=UTC).timestamp()) // 3600
        renewals = [
            (job["id"], job["queue"]) for job in queue.jobs if job["func"] == "studio.jobs.renew_plans"
        ]
        assert renewals == [(f"renew-plans-{slot}", "low")]
        jobs.renew_plans()
        assert ledger_counts(studio, user_id) == Counter({("grant", 100): 2, ("expire", -100): 1})
        clock.move_to(datetime(2027, 7, 1, 11, 0, 1, tzinfo=UTC))  # the next hour: its own pass
        second.tick()
        assert sum(job["func"] == "studio.jobs.renew_plans" for job in queue.jobs) == 2
