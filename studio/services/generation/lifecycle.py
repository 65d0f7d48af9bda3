"""Every change of a job row's state, in one place: the submission, the worker's pipeline, the reconciler,
the admin queue and the account deletion all go through these.

A job is `queued` until a worker has submitted it to the provider (`claim`, then `submitted`), `submitted`
while it waits in the provider's queue and `running` once it runs there (`progressed`). It ends `succeeded`
(`succeed`: the images' credits settled) or `failed` / `cancelled` (`resolve`: the reservation refunded).
A new attempt (`new_attempt`, `queue_attempt`) re-attaches to the stored provider request.

The functions work inside the caller's transaction, on a row the caller locked with `lock` (the one lock
query). A finished job is never changed again: `resolve` and `succeed` refund or settle exactly once, with
the ledger's dedupe keys as the second guard.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, Image, UsageLog, utcnow
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.credits import LedgerKind, billable_megapixels
from studio.domain.generation import JobStatus
from studio.errors import QueueError
from studio.services import dispatch
from studio.services.billing import ledger
from studio.services.context import Services

log = logging.getLogger(__name__)

KEEP_LOG_LINES = 50
UNFINISHED = tuple(status.value for status in JobStatus if not status.finished)


def lock(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID | None = None) -> GenerationJob | None:
    """The job row, locked until the transaction ends (only if it is `owner_id`'s, when given)."""
    query = sa.select(GenerationJob).where(GenerationJob.id == job_id)
    if owner_id is not None:
        query = query.where(GenerationJob.owner_id == owner_id)
    job: GenerationJob | None = session.scalar(query.with_for_update())
    return job


def stuck_condition(now: datetime, stale_seconds: float) -> sa.ColumnElement[bool]:
    """Jobs nobody is working on: those a worker holds (submitted or running, or queued while it sends
    them: `claim(sending=True)`) whose heartbeat went stale, and those waiting for a worker (never claimed,
    or a new attempt not yet claimed: no heartbeat) past their deadline."""
    stale = now - timedelta(seconds=stale_seconds)
    held = GenerationJob.status.in_([JobStatus.SUBMITTED.value, JobStatus.RUNNING.value])
    sending = (GenerationJob.status == JobStatus.QUEUED.value) & GenerationJob.submitting_at.is_not(None)
    silent = (held | sending) & (GenerationJob.heartbeat_at < stale)
    waiting = GenerationJob.status.in_(UNFINISHED) & GenerationJob.heartbeat_at.is_(None)
    return silent | (waiting & (GenerationJob.deadline_at < now))


# --- before and between attempts ------------------------------------------------------------------------


def is_waiting(job: GenerationJob) -> bool:
    """Queued and never submitted (waiting for its turn, or for a worker): cancelling it needs no
    provider."""
    return JobStatus(job.status) is JobStatus.QUEUED and job.provider_request_id is None


def request_cancel(session: Session, job: GenerationJob) -> None:
    """Ask for a job to stop: a waiting one is cancelled now, a submitted one by its worker's next poll."""
    if job.cancel_requested_at is None:
        job.cancel_requested_at = utcnow()
    if is_waiting(job):
        resolve(session, job, JobStatus.CANCELLED, "cancelled", "Cancelled before it started.")


def request_cancel_all(session: Session, owner_id: uuid.UUID, now: datetime) -> None:
    """Every unfinished job of an account asked to stop (its workers see it at their next poll); those
    still waiting for their turn are cancelled now."""
    waiting = session.scalars(
        sa.select(GenerationJob)
        .where(
            GenerationJob.owner_id == owner_id,
            GenerationJob.status == JobStatus.QUEUED.value,
            GenerationJob.dispatched_at.is_(None),
        )
        .with_for_update()
    ).all()
    for job in waiting:
        job.cancel_requested_at = now
        resolve(session, job, JobStatus.CANCELLED, "cancelled", "Cancelled before it started.")
    session.execute(
        sa.update(GenerationJob)
        .where(
            GenerationJob.owner_id == owner_id,
            GenerationJob.status.in_(UNFINISHED),
            GenerationJob.cancel_requested_at.is_(None),
        )
        .values(cancel_requested_at=now)
    )


def new_attempt(job: GenerationJob) -> int:
    """A new attempt of an unfinished job; an older attempt still running stands down. Returns it."""
    job.attempts += 1
    job.heartbeat_at = None  # waiting for a worker: not stale however long the queue is (see stuck_condition)
    job.submitting_at = None  # the new attempt's worker marks it again when it sends
    return job.attempts


def may_have_lost_request(job: GenerationJob) -> bool:
    """A worker began sending the job and stopped before storing the provider's request id: a request may
    exist at the provider that nothing knows the id of."""
    return job.submitting_at is not None and job.provider_request_id is None


def queue_attempt(services: Services, job_id: uuid.UUID, attempt: int, priority: int) -> None:
    """Queue an attempt; when the queue refuses it, the job fails and its credits are returned."""
    try:
        dispatch.generation(services, job_id, attempt, priority)
    except QueueError:
        log.exception("could not queue job %s", job_id)
        fail(services, job_id, "queue", "The job could not be queued.")
        raise QueueError(
            "The studio could not queue your job right now; your credits were returned."
        ) from None


# --- an attempt on a worker ------------------------------------------------------------------------------


def claim(job: GenerationJob, *, sending: bool) -> None:
    """A worker takes the job up (the first claim's time stays). `sending`: it is about to send the job to
    the provider, which is committed before the request leaves, so that recovery knows a request may exist
    from here on even if the worker dies before the provider's answer is stored."""
    now = utcnow()
    job.started_at = job.started_at or now
    job.heartbeat_at = now
    if sending:
        job.submitting_at = now


def submitted(job: GenerationJob, request_id: str) -> None:
    """The provider accepted the request: its id is stored before anything waits on it."""
    job.provider_request_id = request_id
    job.status = JobStatus.SUBMITTED.value
    job.submitted_at = job.submitted_at or utcnow()
    job.heartbeat_at = utcnow()


def progressed(
    job: GenerationJob, state: JobStatus, queue_position: int | None, progress: float, logs: list[str]
) -> None:
    """What the provider says now: in its queue (with a position) or running, the progress and the logs."""
    job.status = state.value
    job.queue_position = queue_position
    job.progress = max(job.progress, progress)
    job.logs = logs[-KEEP_LOG_LINES:]
    job.heartbeat_at = utcnow()


def beat(job: GenerationJob) -> None:
    """The worker still holds the job."""
    job.heartbeat_at = utcnow()


def result_stored(job: GenerationJob, result: dict[str, Any], logs: list[str]) -> None:
    """The provider's result (without inline data), kept so a new attempt needs no second fetch."""
    job.result = result
    if logs:
        job.logs = logs[-KEEP_LOG_LINES:]
    job.progress = max(job.progress, 0.95)
    job.heartbeat_at = utcnow()


# --- the end ---------------------------------------------------------------------------------------------


def refund_note(credits: int) -> str:
    """What every job that ends without images tells its owner about the money."""
    if credits <= 0:
        return "Nothing was charged."
    return f"Your {credits} credit{'s were' if credits != 1 else ' was'} returned."


def resolve(session: Session, job: GenerationJob, status: JobStatus, code: str, message: str) -> bool:
    """End a locked, unfinished job without images: failed or cancelled, its whole reservation refunded.
    `message` says what happened; the refund is said after it, so every such message says it."""
    if JobStatus(job.status).finished:
        return False
    job.status = status.value
    job.error_code = code
    said = message.strip()
    job.error_message = (
        f"{said}{'' if said.endswith(('.', '!', '?')) else '.'} {refund_note(job.credits_reserved)}"
    )
    job.finished_at = utcnow()
    job.credits_settled = 0
    job.queue_position = None
    if job.credits_reserved:
        ledger.change_balance(
            session,
            job.owner_id,
            job.credits_reserved,
            LedgerKind.REFUND,
            f"Refund: job {status.value} ({code})",
            ref_type="job",
            ref_id=str(job.id),
            job_id=job.id,
            dedupe_key=f"refund:{job.id}",
        )
    session.flush()
    _usage(session, job, status.value, [])
    return True


def fail(services: Services, job_id: uuid.UUID, code: str, message: str) -> None:
    """Fail a job in a transaction of its own (a no-op once it has finished)."""
    with services.uow() as uow:
        job = lock(uow.session, job_id)
        if job is not None and resolve(uow.session, job, JobStatus.FAILED, code, message):
            uow.commit()


def succeed(session: Session, job: GenerationJob, images: list[Image]) -> None:
    """The job's images are stored: settle what they cost and refund the rest of the reservation."""
    charged = min(sum(image.credits for image in images), job.credits_reserved)
    job.status = JobStatus.SUCCEEDED.value
    job.progress = 1.0
    job.queue_position = None
    job.finished_at = utcnow()
    job.credits_settled = charged
    ledger.change_balance(
        session,
        job.owner_id,
        job.credits_reserved - charged,
        LedgerKind.SETTLE,
        f"Settled: {charged} credit{'s' if charged != 1 else ''} for {len(images)} image"
        f"{'s' if len(images) != 1 else ''}",
        ref_type="job",
        ref_id=str(job.id),
        job_id=job.id,
        dedupe_key=f"settle:{job.id}",
    )
    session.flush()
    _usage(session, job, JobStatus.SUCCEEDED.value, images)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() * 1000) if start and end else None


def _usage(session: Session, job: GenerationJob, outcome: str, images: list[Image]) -> None:
    spec = BY_ENDPOINT.get(job.model_endpoint)
    megapixels = sum(image.width * image.height for image in images) / 1_000_000
    provider_micros = 0
    if spec is not None and images and job.provider != "demo":
        units = (
            billable_megapixels(images[0].width, images[0].height) if spec.price_unit == "megapixel" else 1
        )
        provider_micros = spec.price_micros * units * len(images)
    session.add(
        UsageLog(
            user_id=job.owner_id,
            job_id=job.id,
            model_endpoint=job.model_endpoint,
            operation=job.operation,
            outcome=outcome,
            images=len(images),
            megapixels=round(megapixels, 3),
            credits=job.credits_settled or 0,
            provider_cost_micros=provider_micros,
            queue_wait_ms=_ms(job.created_at, job.started_at),
            run_ms=_ms(job.started_at, job.finished_at),
        )
    )
    log.info(
        "job finished job=%s user=%s model=%s provider=%s outcome=%s images=%d credits=%d "
        "queue_wait_ms=%s run_ms=%s request=%s error=%s",
        job.id,
        job.owner_id,
        job.model_endpoint,
        job.provider,
        outcome,
        len(images),
        job.credits_settled or 0,
        _ms(job.created_at, job.started_at),
        _ms(job.started_at, job.finished_at),
        job.provider_request_id,
        job.error_code,
    )
