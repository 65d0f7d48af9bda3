"""How long until a job (or a batch) is done: each model's measured latency (the median of its recent
runs) and the person's place in the fair queue.

A person's waiting jobs go `slots` at a time, where `slots` is their fair share of the provider's slots
(the slots over the people with work, at most their plan's cap), so the k-th of their waiting jobs is
done after about ceil(k / slots) runs, plus what is left of the runs in flight.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, UsageLog, utcnow
from studio.domain.batches import eta_seconds
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.generation import JobStatus
from studio.services.context import Services
from studio.services.generation import fair

SAMPLE = 50  # the newest successful runs of a model the median is taken over
CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, float]] = {}  # endpoint -> (median seconds, measured at monotonic)
_cache_lock = threading.Lock()


def latency(session: Session, endpoint: str) -> float:
    """The median run time of the model's newest successful jobs in seconds (its expected time when it
    has not run yet); measured at most every CACHE_SECONDS in a process."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(endpoint)
    if cached is not None and now - cached[1] < CACHE_SECONDS:
        return cached[0]
    runs = [
        run
        for run in session.scalars(
            sa.select(UsageLog.run_ms)
            .where(
                UsageLog.model_endpoint == endpoint,
                UsageLog.outcome == JobStatus.SUCCEEDED.value,
                UsageLog.run_ms.is_not(None),
            )
            .order_by(UsageLog.created_at.desc())
            .limit(SAMPLE)
        )
        if run is not None
    ]
    spec = BY_ENDPOINT.get(endpoint)
    seconds = statistics.median(runs) / 1000 if runs else (spec.expected_seconds if spec else 10.0)
    with _cache_lock:
        _cache[endpoint] = (seconds, now)
    return seconds


@dataclass(frozen=True)
class Share:
    """One person's place: their slots now, and what they have waiting or in flight."""

    slots: int
    in_flight: int


def share(services: Services, session: Session, owner_id: uuid.UUID) -> Share:
    """The person's fair share of the provider's slots while everybody with work now keeps it."""
    now = utcnow()
    running = fair.in_flight(session)
    with_work = set(running) | set(
        session.scalars(sa.select(GenerationJob.owner_id).where(fair.waiting(now)).distinct()).all()
    )
    with_work.add(owner_id)
    cap = fair.slots_of(session, [owner_id])[owner_id]
    fair_share = max(1, fair.slots(services) // len(with_work))
    return Share(min(cap, fair_share), running.get(owner_id, 0))


def ahead_of(session: Session, owner_id: uuid.UUID, job: GenerationJob) -> int:
    """The person's own waiting jobs that go before `job` (its priority, then its age)."""
    now = utcnow()
    first = (GenerationJob.priority > job.priority) | (
        (GenerationJob.priority == job.priority) & (GenerationJob.created_at < job.created_at)
    )
    if job.batch_row is not None:
        first = first | (
            (GenerationJob.priority == job.priority)
            & (GenerationJob.created_at == job.created_at)
            & (GenerationJob.batch_row < job.batch_row)
        )
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(GenerationJob)
            .where(GenerationJob.owner_id == owner_id, fair.waiting(now), first)
        )
        or 0
    )


def waiting_jobs(session: Session, owner_id: uuid.UUID) -> int:
    """The person's jobs waiting for their turn now."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(GenerationJob)
            .where(GenerationJob.owner_id == owner_id, fair.waiting(utcnow()))
        )
        or 0
    )


def remaining(job_started: datetime | None, seconds: float) -> float:
    """What is left of a run that began at `job_started` (at least a second while it runs)."""
    if job_started is None:
        return seconds
    return max(1.0, seconds - (utcnow() - job_started).total_seconds())


def job_eta(services: Services, session: Session, job: GenerationJob) -> float | None:
    """Seconds until this job is done; None once it has finished."""
    status = JobStatus(job.status)
    if status.finished:
        return None
    seconds = latency(session, job.model_endpoint)
    if job.dispatched_at is not None:
        return remaining(job.started_at, seconds)
    place = share(services, session, job.owner_id)
    ahead = ahead_of(session, job.owner_id, job)
    # The runs in flight end first (about half a run from now on average), then the queue moves.
    wait = seconds / 2 if place.in_flight >= place.slots else 0.0
    return wait + eta_seconds(ahead + 1, place.slots, seconds)


def eta_of_many(
    services: Services, session: Session, owner_id: uuid.UUID, endpoints: Iterable[str], ahead: int = 0
) -> float:
    """Seconds until `endpoints` (one per job, not yet dispatched) are done after `ahead` other jobs of the
    person: a new batch's ETA, or what remains of one."""
    models = list(endpoints)
    if not models:
        return 0.0
    per_job = statistics.fmean(latency(session, endpoint) for endpoint in models)
    place = share(services, session, owner_id)
    wait = per_job / 2 if place.in_flight >= place.slots else 0.0
    return wait + eta_seconds(ahead + len(models), place.slots, per_job)
