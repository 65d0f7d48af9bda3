"""Admin: the job queue. Jobs by status, stuck jobs (no heartbeat for JOB_STALE_SECONDS), failures with
their errors, the workers and their heartbeats, queue lengths, and the mail outbox in embedded mode.

Two actions, both on the pipeline's own paths so refunds stay exactly-once:
- retry a finished job that failed or was cancelled: a new job for its owner from the stored request,
  reserving credits again (the old job's refund stays as it was). Its idempotency key names the old job,
  so pressing Retry twice makes one new job;
- dispatch a stuck job again (a new attempt that re-attaches to the provider request, as the reconciler
  does), or cancel a job (`submissions.cancel_job` on behalf of its owner: refunded once by the pipeline).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, User, utcnow
from studio.adapters.mail import OutboxMailer, OutboxMessage
from studio.adapters.queue import WorkerState
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.errors import InvalidInput, NotFound, StudioError
from studio.services.audit import audit, check_admin
from studio.services.context import Services
from studio.services.generation import lifecycle, submissions

LIST_LIMIT = 50
ACTIVE = (JobStatus.QUEUED.value, JobStatus.SUBMITTED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True)
class QueueJob:
    id: uuid.UUID
    owner: str
    model: str
    status: str
    created_at: datetime
    heartbeat_at: datetime | None
    attempts: int
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True)
class QueueOverview:
    backend: str
    by_status: dict[str, int]
    stuck: list[QueueJob]
    active: list[QueueJob]
    failures: list[QueueJob]
    workers: list[WorkerState] | None  # None when the queue did not answer
    lengths: dict[str, int] | None
    queue_error: str | None
    outbox: list[OutboxMessage] | None  # None when mail goes out over SMTP


def _jobs(session: Session, where: sa.ColumnElement[bool], order: Any) -> list[QueueJob]:
    rows = session.execute(
        sa.select(GenerationJob, User.username)
        .join(User, User.id == GenerationJob.owner_id)
        .where(where)
        .order_by(order)
        .limit(LIST_LIMIT)
    )
    return [
        QueueJob(
            job.id,
            username,
            job.model_endpoint,
            job.status,
            job.created_at,
            job.heartbeat_at,
            job.attempts,
            job.error_code,
            job.error_message,
        )
        for job, username in rows
    ]


def queue_overview(services: Services, actor_id: uuid.UUID, outbox_limit: int = 20) -> QueueOverview:
    now = utcnow()
    with services.uow() as uow:
        session = uow.session
        check_admin(session, actor_id)
        by_status = {
            status: int(count)
            for status, count in session.execute(
                sa.select(GenerationJob.status, sa.func.count()).group_by(GenerationJob.status)
            ).tuples()
        }
        stuck = _jobs(
            session,
            lifecycle.stuck_condition(now, services.settings.job_stale_seconds),
            GenerationJob.created_at,
        )
        active = _jobs(session, GenerationJob.status.in_(ACTIVE), GenerationJob.created_at.desc())
        failures = _jobs(
            session, GenerationJob.status == JobStatus.FAILED.value, GenerationJob.created_at.desc()
        )
    workers: list[WorkerState] | None
    lengths: dict[str, int] | None
    try:
        workers, lengths, error = services.queue.workers(), services.queue.lengths(), None
    except StudioError as err:
        workers, lengths, error = None, None, str(err)
    mailer = services.mailer
    return QueueOverview(
        services.queue.backend,
        by_status,
        stuck,
        active,
        failures,
        workers,
        lengths,
        error,
        mailer.messages(outbox_limit) if isinstance(mailer, OutboxMailer) else None,
    )


def retry_job(services: Services, actor_id: uuid.UUID, job_id: uuid.UUID) -> uuid.UUID:
    """A failed or cancelled job again, as a new job of its owner; returns the new job's id."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        job = uow.session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound("No such job.")
        if job.status not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
            raise InvalidInput("Only a failed or cancelled job can be retried; dispatch a stuck one instead.")
        owner, request, key = job.owner_id, Request.from_json(job.request), f"admin-retry:{job_id}"
        earlier = uow.session.scalar(
            sa.select(GenerationJob.id).where(
                GenerationJob.owner_id == owner, GenerationJob.idempotency_key == key
            )
        )
    if earlier is not None:  # retried already: the same new job, nothing more to record
        return earlier
    new = submissions.start_generation(services, owner, request, key)
    with services.uow() as uow:
        audit(uow.session, actor_id, "job.retry", "job", job_id, after={"new_job": str(new.id)})
        uow.commit()
    return new.id


def dispatch_again(services: Services, actor_id: uuid.UUID, job_id: uuid.UUID) -> int:
    """A new attempt of an unfinished job (it re-attaches to its provider request); returns the attempt."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        job = lifecycle.lock(uow.session, job_id)
        if job is None:
            raise NotFound("No such job.")
        if JobStatus(job.status).finished:
            raise InvalidInput(f"This job has already {job.status}.")
        before = job.attempts
        attempt, priority = lifecycle.new_attempt(job), job.priority
        audit(
            uow.session,
            actor_id,
            "job.dispatch",
            "job",
            job_id,
            before={"attempts": before},
            after={"attempts": attempt},
        )
        uow.commit()
    lifecycle.queue_attempt(services, job_id, attempt, priority)
    return attempt


def cancel_job(services: Services, actor_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """Cancel a job on behalf of its owner; returns its status afterwards."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        job = uow.session.get(GenerationJob, job_id)
        if job is None:
            raise NotFound("No such job.")
        owner, before = job.owner_id, job.status
    view = submissions.cancel_job(services, owner, job_id)
    with services.uow() as uow:
        audit(
            uow.session,
            actor_id,
            "job.cancel",
            "job",
            job_id,
            before={"status": before},
            after={"status": view.status.value},
        )
        uow.commit()
    return view.status.value
