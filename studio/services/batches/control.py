"""A batch's queue control: pause and resume, cancel what has not started, retry the failed rows, change
its priority. The fair queue (`studio.services.generation.fair`) reads the batch's state on every pass, so
a change here takes effect at the next job it hands out."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, utcnow
from studio.domain.batches import Priority
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.errors import InvalidInput
from studio.services.batches import runs
from studio.services.batches.views import owned_batch
from studio.services.context import Services
from studio.services.generation import catalogue, fair, lifecycle, submissions


def pause(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    """Nothing more of the batch starts; what runs finishes."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id, lock=True)
        if batch.cancelled_at is not None:
            raise InvalidInput("This batch was cancelled.")
        batch.paused_at = batch.paused_at or utcnow()
        uow.commit()


def resume(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    """The batch's waiting rows take their turns again."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id, lock=True)
        if batch.cancelled_at is not None:
            raise InvalidInput("This batch was cancelled.")
        batch.paused_at = None
        uow.commit()
    fair.dispatch_quietly(services)


def cancel(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> int:
    """Cancel every row that has not started, each refunded once; the rows at the provider finish. The
    number of rows cancelled."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id, lock=True)
        batch.cancelled_at = batch.cancelled_at or utcnow()
        batch.paused_at = None
        uow.commit()
    cancelled = 0
    with services.uow() as uow:
        waiting = uow.session.scalars(
            sa.select(GenerationJob)
            .where(
                GenerationJob.batch_id == batch_id,
                GenerationJob.owner_id == account_id,
                GenerationJob.status == JobStatus.QUEUED.value,
                GenerationJob.provider_request_id.is_(None),
                GenerationJob.submitting_at.is_(None),
            )
            .order_by(GenerationJob.id)
            .with_for_update()
        ).all()
        for job in waiting:
            job.cancel_requested_at = job.cancel_requested_at or utcnow()
            if lifecycle.resolve(
                uow.session, job, JobStatus.CANCELLED, "cancelled", "Cancelled with the rest of its batch."
            ):
                cancelled += 1
        uow.commit()
    return cancelled


def set_priority(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID, priority: Priority) -> None:
    """The batch's priority among the person's own work, for its rows that wait."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id, lock=True)
        batch.priority = int(priority)
        uow.session.execute(
            sa.update(GenerationJob)
            .where(
                GenerationJob.batch_id == batch_id,
                GenerationJob.owner_id == account_id,
                GenerationJob.status == JobStatus.QUEUED.value,
                GenerationJob.dispatched_at.is_(None),
            )
            .values(priority=int(priority))
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    fair.dispatch_quietly(services)


def _latest(session: Session, batch_id: uuid.UUID) -> dict[int, GenerationJob]:
    """The newest job of each row of the batch."""
    latest: dict[int, GenerationJob] = {}
    for job in session.scalars(
        sa.select(GenerationJob)
        .where(GenerationJob.batch_id == batch_id)
        .order_by(GenerationJob.batch_row, GenerationJob.created_at, GenerationJob.id)
    ):
        if job.batch_row is not None:
            latest[job.batch_row] = job
    return latest


def retry_failed(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> int:
    """Run every failed row again as it was (the same request, the same seed), each reserved anew; all
    or none (InsufficientCredits). A cancelled batch takes its turns again for them. The rows retried."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id, lock=True)
        failed = [
            job for job in _latest(uow.session, batch_id).values() if job.status == JobStatus.FAILED.value
        ]
        priority = batch.priority
        for job in failed:
            uow.session.expunge(job)
    if not failed:
        raise InvalidInput("No row of this batch has failed.")
    submissions.check_may_generate(services, account_id)
    services.limit(services.settings.rate_limit_generations, "generations", str(account_id))
    now = utcnow()
    jobs = []
    for old in failed:
        spec = catalogue.model_spec(services, old.model_endpoint)
        planned = submissions.plan(services, account_id, Request.from_json(old.request), None, spec)
        jobs.append(
            submissions.new_job(
                services,
                account_id,
                planned,
                f"batch:{batch_id}:{old.batch_row}:retry:{old.id}",
                priority=priority,
                project_id=old.project_id,
                fallback_endpoint=old.fallback_endpoint if old.fallback_of_id is None else None,
                batch=(batch_id, old.batch_row or 0),
                now=now,
            )
        )

    def take_turns_again(session: Session) -> None:
        owned_batch(session, account_id, batch_id, lock=True).cancelled_at = None

    try:
        runs.save_jobs(services, account_id, jobs, "Retry of row {row} of a batch", take_turns_again)
    except IntegrityError:
        return 0  # a retry of the same rows sent at the same time made them
    fair.dispatch_quietly(services)
    return len(jobs)
