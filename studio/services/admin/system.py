"""System status for admins: health, configuration, schema and jobs at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from studio.adapters.db import migrate
from studio.adapters.db.models import GenerationJob, utcnow
from studio.adapters.mail import OutboxMailer, OutboxMessage
from studio.adapters.queue import QueueStats
from studio.errors import StudioError
from studio.services.admin.health import HealthReport, check_health
from studio.services.context import Services


@dataclass(frozen=True)
class SystemStatus:
    health: HealthReport
    configuration: dict[str, str]
    schema_revision: str | None
    schema_head: str | None
    jobs: QueueStats | None
    outbox: list[OutboxMessage] | None  # None when mail goes out over SMTP
    provider_errors: list[ProviderIncident]


@dataclass(frozen=True)
class ProviderIncident:
    """A job that failed because of the studio's provider configuration, not the user's request."""

    at: datetime
    model: str
    code: str
    message: str


#: Error codes that an admin, not the user, has to act on.
ADMIN_ERROR_CODES = ("auth", "config")


def provider_incidents(services: Services, within: timedelta = timedelta(days=1)) -> list[ProviderIncident]:
    since = utcnow() - within
    with services.uow() as uow:
        rows = uow.session.execute(
            sa.select(
                GenerationJob.finished_at, GenerationJob.model_endpoint, GenerationJob.error_code,
                GenerationJob.error_message,
            )
            .where(GenerationJob.error_code.in_(ADMIN_ERROR_CODES), GenerationJob.finished_at > since)
            .order_by(GenerationJob.finished_at.desc())
            .limit(20)
        )  # fmt: skip
        return [ProviderIncident(row[0], row[1], row[2] or "", row[3] or "") for row in rows]


def health_report(services: Services) -> HealthReport:
    """What `/healthz` reports: the database, the job queue and object storage."""
    return check_health({"database": services.database, "queue": services.queue, "storage": services.storage})


def system_status(services: Services, outbox_limit: int = 20) -> SystemStatus:
    health = health_report(services)
    try:
        jobs: QueueStats | None = services.queue.stats()
    except StudioError:
        jobs = None  # the health table already says why
    database_up = all(check.ok for check in health.checks if check.name == "database")
    revision = migrate.current_revision(services.database.engine) if database_up else None
    mailer = services.mailer
    return SystemStatus(
        health=health,
        configuration=services.settings.describe(),
        schema_revision=revision,
        schema_head=migrate.head_revision(),
        jobs=jobs,
        outbox=mailer.messages(outbox_limit) if isinstance(mailer, OutboxMailer) else None,
        provider_errors=provider_incidents(services) if database_up else [],
    )
