"""The daily roll-ups of the admin analytics, on SQLite and PostgreSQL: the figures read through them equal
the live ones, a pass run twice changes nothing, and a job that finishes after its day was summed is counted
after the next pass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from studio import jobs
from studio.adapters.db import Database, migrate
from studio.adapters.db.engine import create_engine
from studio.adapters.db.models import DailyRollup, DailyStat, UsageLog, User
from studio.domain.analytics import DateRange
from studio.services.analytics import admin_analytics, rollups
from studio.services.context import Services
from tests.support.admin_seed import DEV, ULTRA, Seeded, at, seed
from tests.support.databases import rolled_back, scratch_postgres
from tests.support.fakes import FakeQueue
from tests.support.services import embedded_settings, installed


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Engine]:
    """A database of this module's own: a pass sums every day, so rows that other tests committed to the
    run's shared database would count."""
    with scratch_postgres() as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def postgres_db(own_postgres: Engine) -> Iterator[Database]:
    """This module's database in place of the shared one, for the `studio` fixture's PostgreSQL half (the
    admin tests' services, tests/admin/conftest.py)."""
    with rolled_back(own_postgres) as database:
        yield database


@pytest.fixture
def boss(studio: Services) -> uuid.UUID:
    with studio.uow() as uow:
        user = User(email="boss@example.org", username="boss", name="Boss", role="admin")
        uow.users.add(user)
        uow.commit()
        return user.id


def ranges(seeded: Seeded) -> list[DateRange]:
    return [
        DateRange(seeded.d1, seeded.d3),
        DateRange.last_days(45, seeded.d3),
        DateRange(seeded.d1, seeded.d1),
        DateRange(seeded.d3, seeded.d3),
    ]


def figures(services: Services, boss: uuid.UUID, seeded: Seeded) -> list[admin_analytics.AdminAnalytics]:
    return [admin_analytics.admin_analytics(services, boss, days) for days in ranges(seeded)]


def rolled_up(services: Services) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with services.uow() as uow:
        days = uow.session.execute(
            sa.select(DailyRollup.day, DailyRollup.active_users).order_by(DailyRollup.day)
        )
        stats = uow.session.execute(
            sa.select(DailyStat).order_by(
                DailyStat.day, DailyStat.model_endpoint, DailyStat.outcome, DailyStat.plan
            )
        )
        return [tuple(row) for row in days], [
            tuple(getattr(stat, c.key) for c in DailyStat.__table__.columns) for (stat,) in stats
        ]


def finish_late(services: Services, user: uuid.UUID, when: datetime) -> None:
    with services.uow() as uow:
        uow.session.add(
            UsageLog(
                user_id=user,
                model_endpoint=ULTRA,
                operation="text_to_image",
                outcome="succeeded",
                images=1,
                credits=6,
                provider_cost_micros=60_000,
                queue_wait_ms=500,
                run_ms=7000,
                created_at=when,
            )
        )
        uow.commit()


def test_the_roll_up_gives_the_live_figures(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    live = figures(studio, boss, seeded)
    days = rollups.roll_up(studio)
    first = seeded.d3 - timedelta(days=40)  # alice's oldest job
    assert days == [first + timedelta(days=n) for n in range(40)]  # every closed day, today left live
    summed_days, stats = rolled_up(studio)
    assert [(day, users) for day, users in summed_days if users] == [
        (first, 1),
        (seeded.d1, 1),
        (days[-1], 1),
    ]
    assert sum(stat[4] for stat in stats) == 6  # the six finished jobs, in the columns' order: jobs 5th
    assert figures(studio, boss, seeded) == live
    found = admin_analytics.admin_analytics(studio, boss, DateRange(seeded.d1, seeded.d3))
    assert (found.jobs, found.credits, found.cost_micros, found.active_users) == (5, 10, 160_000, 2)
    by_plan = {p.plan: (p.jobs, p.credits, p.cost_micros, p.revenue_cents) for p in found.per_plan}
    assert by_plan == {"pro": (3, 8, 110_000, 2900), "free": (2, 2, 50_000, 0), "no plan": (0, 0, 0, 1900)}
    dev = found.per_model[0]
    assert (dev.endpoint, dev.p50_ms, dev.p95_ms) == (DEV, 5000, 5900)
    assert dev.avg_queue_ms == pytest.approx(1150)
    assert dev.avg_run_ms == pytest.approx(11000 / 3)


def test_a_second_pass_changes_nothing(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    rollups.roll_up(studio)
    before = rolled_up(studio)
    assert rollups.roll_up(studio) == [seeded.d3 - timedelta(days=1)]  # only yesterday, summed again
    assert rolled_up(studio) == before
    assert rollups.roll_up(studio, now=at(seeded.d3 + timedelta(days=1), 0)) == [seeded.d3]  # the day closed
    assert rolled_up(studio)[0][-1] == (seeded.d3, 0)


def test_a_job_finishing_after_its_day_was_rolled_up_counts_after_the_next_pass(
    studio: Services, boss: uuid.UUID
) -> None:
    seeded = seed(studio)
    rollups.roll_up(studio)
    d2 = seeded.d1 + timedelta(days=1)
    finish_late(studio, seeded.alice, at(d2, 23))  # yesterday, committed after the pass
    finish_late(studio, seeded.bob, at(seeded.d1, 22))  # an older day: its count no longer matches
    rolled = admin_analytics.admin_analytics(studio, boss, DateRange(seeded.d1, seeded.d3))
    assert rolled.jobs == 5  # the summed days, as they were summed
    assert rollups.roll_up(studio) == [seeded.d1, d2]
    live = rollups_cleared(studio, boss, seeded)
    after = figures(studio, boss, seeded)
    assert after == live
    assert (after[0].jobs, after[0].credits, after[0].active_users) == (7, 22, 2)
    assert [(d.jobs, d.active_users) for d in after[0].per_day] == [(3, 2), (4, 2), (0, 0)]


def rollups_cleared(
    services: Services, boss: uuid.UUID, seeded: Seeded
) -> list[admin_analytics.AdminAnalytics]:
    """The figures computed live only: the roll-ups are set aside for the call, then put back."""
    summed_days, stats = rolled_up(services)
    with services.uow() as uow:
        uow.session.execute(sa.delete(DailyStat))
        uow.session.execute(sa.delete(DailyRollup))
        uow.commit()
    try:
        return figures(services, boss, seeded)
    finally:
        with services.uow() as uow:
            keys = [c.key for c in DailyStat.__table__.columns]
            uow.session.execute(
                sa.insert(DailyRollup), [{"day": day, "active_users": users} for day, users in summed_days]
            )
            uow.session.execute(sa.insert(DailyStat), [dict(zip(keys, row, strict=True)) for row in stats])
            uow.commit()


def test_nothing_to_roll_up_without_jobs(studio: Services) -> None:
    assert rollups.roll_up(studio) == []
    assert rolled_up(studio) == ([], [])


def test_spans_join_consecutive_days() -> None:
    d = date(2026, 3, 1)
    assert rollups.spans([d + timedelta(days=n) for n in (3, 0, 1, 5)]) == [
        (at(d, 0), at(d + timedelta(days=2), 0)),
        (at(d + timedelta(days=3), 0), at(d + timedelta(days=4), 0)),
        (at(d + timedelta(days=5), 0), at(d + timedelta(days=6), 0)),
    ]


def test_the_hourly_pass_is_queued_by_the_duties_and_rolls_up(tmp_path: Path) -> None:
    from studio.duties import Duties

    with installed(embedded_settings(tmp_path / "data"), start=False) as services:
        services.database.migrate()
        services.queue = queue = FakeQueue(queue_names=services.settings.queue_names)
        user = seed(services).alice
        finish_late(services, user, datetime.now(UTC) - timedelta(days=3))
        Duties(services).tick()
        [pass_job] = [job for job in queue.jobs if job["func"] == "studio.jobs.roll_up_analytics"]
        assert pass_job["queue"] == "low"
        assert str(pass_job["id"]).startswith("roll-up-analytics-")
        jobs.roll_up_analytics()
        assert len(rolled_up(services)[0]) == 40


def test_a_day_whose_jobs_are_gone_is_summed_again(studio: Services, boss: uuid.UUID) -> None:
    seeded = seed(studio)
    rollups.roll_up(studio)
    first = seeded.d3 - timedelta(days=40)
    with studio.uow() as uow:  # the only job of that day, gone with its account's data
        uow.session.execute(sa.delete(UsageLog).where(UsageLog.created_at < at(first + timedelta(days=1), 0)))
        uow.commit()
    assert rollups.roll_up(studio) == [first, seeded.d3 - timedelta(days=1)]
    wide = admin_analytics.admin_analytics(studio, boss, DateRange.last_days(45, seeded.d3))
    assert (wide.jobs, wide.credits, wide.per_day[45 - 41].jobs) == (5, 10, 0)
