"""The reconciler (ARCHITECTURE.md pipeline step 5): jobs nobody is working on, found and resolved.

A job whose worker stopped writing its heartbeat (a killed worker, a lost queue entry) is dispatched again,
and the new attempt re-attaches to the provider request it already has, or sends the job again when its
worker died before the request id was stored; after MAX_ATTEMPTS it is failed and refunded instead. The
passes of `studio.duties` run `reconcile` every RECONCILE_INTERVAL_SECONDS in every worker process, and
`take_over` the moment a worker is known dead, without waiting for its heartbeat to go stale.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob, utcnow
from studio.domain.generation import JobStatus
from studio.errors import QueueError
from studio.services import dispatch
from studio.services.context import Services
from studio.services.generation import lifecycle
from studio.services.generation.pipeline import cancel_quietly

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a job its worker died on this often (a job that kills workers) fails, refunded
STUCK_MESSAGE = "The job stopped responding."


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
        try:
            outcome = take_over(services, job_id)
        except QueueError:  # the queue refused the new attempt: the job failed and was refunded
            outcome = "failed"
        if outcome == "redispatched":
            redispatched.append(job_id)
        elif outcome == "failed":
            failed.append(job_id)
    return Reconciled(redispatched, failed)


def take_over(
    services: Services, job_id: uuid.UUID, attempt: int | None = None
) -> Literal["redispatched", "failed"] | None:
    """Take an unfinished job from a worker that stopped: its next attempt is queued ahead of new work (it
    re-attaches to its request), or it fails and is refunded once out of attempts. With `attempt`, only if
    that attempt still holds the job (its worker is known dead); None when there was nothing to do."""
    with services.uow() as uow:
        job = lifecycle.lock(uow.session, job_id)
        if job is None or JobStatus(job.status).finished or attempt not in (None, job.attempts):
            return None
        if lifecycle.may_have_lost_request(job):
            log.warning(
                "reconciler: job %s attempt %d died while sending to %s at %s; a request whose id was "
                "never stored may exist there, and the job is sent again",
                job.id, job.attempts, job.model_endpoint, job.submitting_at,
            )  # fmt: skip
        if job.attempts >= MAX_ATTEMPTS:
            lifecycle.resolve(uow.session, job, JobStatus.FAILED, "stuck", STUCK_MESSAGE)
            request_id, endpoint, provider_name = job.provider_request_id, job.model_endpoint, job.provider
            uow.commit()
            if request_id:
                provider = services.make_provider(provider_name)
                try:
                    cancel_quietly(provider, endpoint, request_id)
                finally:
                    provider.close()
            return "failed"
        next_attempt = lifecycle.new_attempt(job)
        uow.commit()
    log.warning("reconciler: job %s was stuck; dispatching attempt %d", job_id, next_attempt)
    lifecycle.queue_attempt(services, job_id, next_attempt, dispatch.URGENT)
    return "redispatched"
