"""One person's generation statistics over a range of days (the Usage page's analytics).

Read from `usage_logs` (one row per finished job) on its (user_id, created_at) index: jobs and credits per
day and per model, the success rate and the average time from submission to finished images.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from studio.adapters.db.models import UsageLog
from studio.domain.analytics import DateRange, rate
from studio.domain.catalogue import BY_ENDPOINT
from studio.services.analytics.sql import as_date, day_of
from studio.services.context import Services


@dataclass
class UserDay:
    day: date
    jobs: int = 0
    succeeded: int = 0
    credits: int = 0


@dataclass
class UserModel:
    name: str
    jobs: int = 0
    succeeded: int = 0
    credits: int = 0


@dataclass
class UserStats:
    days: DateRange
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    credits: int = 0
    images: int = 0
    time_ms_total: int = 0
    time_ms_count: int = 0
    per_day: list[UserDay] = field(default_factory=list)
    per_model: list[UserModel] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return rate(self.succeeded, self.jobs)

    @property
    def average_seconds(self) -> float | None:
        """From submission to stored images, over succeeded jobs."""
        return self.time_ms_total / self.time_ms_count / 1000 if self.time_ms_count else None


def user_stats(services: Services, user_id: uuid.UUID, days: DateRange) -> UserStats:
    """This account's finished jobs in `days`: per day, per model, success rate, average time."""
    found = UserStats(days, per_day=[UserDay(day) for day in days.days])
    with services.uow() as uow:
        session = uow.session
        day = day_of(session, UsageLog.created_at).label("day")
        succeeded = UsageLog.outcome == "succeeded"
        total_ms = UsageLog.queue_wait_ms + UsageLog.run_ms
        rows = session.execute(
            sa.select(
                day,
                UsageLog.model_endpoint,
                UsageLog.outcome,
                sa.func.count(),
                sa.func.sum(UsageLog.credits),
                sa.func.sum(UsageLog.images),
                sa.func.sum(sa.case((succeeded, total_ms))),
                sa.func.count(sa.case((succeeded, total_ms))),
            )
            .where(
                UsageLog.user_id == user_id, UsageLog.created_at >= days.start, UsageLog.created_at < days.end
            )
            .group_by(day, UsageLog.model_endpoint, UsageLog.outcome)
        )
    by_day = {entry.day: entry for entry in found.per_day}
    by_model: dict[str, UserModel] = {}
    for when, endpoint, outcome, jobs, credits, images, ms_total, ms_count in rows:
        spec = BY_ENDPOINT.get(endpoint)
        model = by_model.setdefault(endpoint, UserModel(spec.name if spec else endpoint))
        entry = by_day[as_date(when)]
        won = jobs if outcome == "succeeded" else 0
        for target in (found, model, entry):
            target.jobs += jobs
            target.succeeded += won
            target.credits += int(credits or 0)
        found.failed += jobs if outcome == "failed" else 0
        found.images += int(images or 0)
        found.time_ms_total += int(ms_total or 0)
        found.time_ms_count += int(ms_count or 0)
    found.per_model = sorted(by_model.values(), key=lambda m: (-m.jobs, m.name))
    return found
