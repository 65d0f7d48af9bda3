"""The reconciler (ARCHITECTURE.md pipeline step 5): jobs nobody is working on, found and resolved.

A job whose worker stopped writing its heartbeat (a killed worker, a lost queue entry) is dispatched again,
and the new attempt re-attaches to the provider request it already has; after MAX_ATTEMPTS it is failed and
refunded instead. The job `studio.jobs.reconcile` runs this on a schedule.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob, utcnow
from studio.domain.generation import JobStatus
from studio.services.context import Services
from studio.services.generation import lifecycle
from studio.services.generation.pipeline import cancel_quietly

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Reconciled:
    redispatched: list[uuid.UUID]
    failed: list[uuid.UUID]


def reconcile(services: Services) -> Reconciled:
    """Find jobs nobody is working on and resolve them: dispatch them again (re-attach) or fail them."""
    stuck = lifecycle.stuck_condition(utcnow(), services.settings.job_stale_seconds)
    with services.uow() as uow:
        candidates = list(uow.session.scalars(sa.select(GenerationJob.id).where(stuck).limit(500)))
    redispatched, failed = [], []
    for job_id in candidates:
        with services.uow() as uow:
            job = lifecycle.lock(uow.session, job_id)
            if job is None or JobStatus(job.status).finished:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                lifecycle.resolve(
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
            attempt, priority = lifecycle.new_attempt(job), job.priority
            uow.commit()
        log.warning("reconciler: job %s was stuck; dispatching attempt %d", job_id, attempt)
        lifecycle.queue_attempt(services, job_id, attempt, priority)
        redispatched.append(job_id)
    return Reconciled(redispatched, failed)
