"""The reconciler (ARCHITECTURE.md pipeline step 5): jobs nobody is working on, found and resolved.

A job whose worker stopped writing its heartbeat (a killed worker, a lost queue entry) is dispatched again,
and the new attempt re-attaches to the provider request it already has; after MAX_ATTEMPTS it is failed and
refunded instead. `studio.jobs.reconcile` runs this on a schedule.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob, utcnow
from studio.bootstrap import Services
from studio.domain.generation import JobStatus
from studio.services.pipeline import cancel_quietly, locked, resolve

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Reconciled:
    redispatched: list[uuid.UUID]
    failed: list[uuid.UUID]


def reconcile(services: Services) -> Reconciled:
    """Find jobs nobody is working on and resolve them: dispatch them again (re-attach) or fail them."""
    from studio.services.generation import _dispatch

    now = utcnow()
    stale = now - timedelta(seconds=services.settings.job_stale_seconds)
    beat = sa.func.coalesce(GenerationJob.heartbeat_at, GenerationJob.created_at)
    claimed = (GenerationJob.status.in_([JobStatus.SUBMITTED.value, JobStatus.RUNNING.value])) & (
        beat < stale
    )
    abandoned = (
        (GenerationJob.status == JobStatus.QUEUED.value) & (GenerationJob.deadline_at < now) & (beat < stale)
    )
    with services.uow() as uow:
        candidates = list(
            uow.session.scalars(sa.select(GenerationJob.id).where(claimed | abandoned).limit(500))
        )
    redispatched, failed = [], []
    for job_id in candidates:
        with services.uow() as uow:
            job = locked(uow.session, job_id)
            if JobStatus(job.status).finished:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                resolve(
                    uow.session,
                    job,
                    JobStatus.FAILED,
                    "stuck",
                    "The job stopped responding; your credits were returned.",
                )
                request_id, endpoint, provider_name = (
                    job.provider_request_id,
                    job.model_endpoint,
                    job.provider,
                )
                uow.commit()
                failed.append(job_id)
                if request_id:
                    provider = services.make_provider(provider_name)
                    try:
                        cancel_quietly(provider, endpoint, request_id)
                    finally:
                        provider.close()
                continue
            job.attempts += 1
            job.heartbeat_at = now
            attempt, priority = job.attempts, job.priority
            uow.commit()
        log.warning("reconciler: job %s was stuck; dispatching attempt %d", job_id, attempt)
        _dispatch(services, job_id, attempt, priority)
        redispatched.append(job_id)
    return Reconciled(redispatched, failed)
