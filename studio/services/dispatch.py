"""Work handed to the job queue, by the dotted name of its job function in `studio.jobs`.

The job functions get their services from the composition root, so services never import them: they name
them here, as RQ allows (`queue.enqueue("pkg.module.function", ...)`). This module also owns the one rule
that picks a queue from a priority, and the intervals of the periodic passes (`studio.duties` runs them).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from studio.services.context import Services
from studio.settings import Settings

RUN_GENERATION = "studio.jobs.run_generation"
SEND_MAIL = "studio.jobs.send_mail"
BUILD_EXPORT = "studio.jobs.build_export"
PURGE_ACCOUNT = "studio.jobs.purge_account"
BUILD_ZIP = "studio.jobs.build_zip"
BUILD_BATCH_ZIP = "studio.jobs.build_batch_zip"
RENEW_PLANS = "studio.jobs.renew_plans"
PURGE_TRASH = "studio.jobs.purge_trash"
ROLL_UP_ANALYTICS = "studio.jobs.roll_up_analytics"
JOBS = (
    RUN_GENERATION, SEND_MAIL, BUILD_EXPORT, PURGE_ACCOUNT, BUILD_ZIP, BUILD_BATCH_ZIP, RENEW_PLANS,
    PURGE_TRASH, ROLL_UP_ANALYTICS,
)  # fmt: skip

#: Priorities: above zero goes to the `high` queue, below zero to `low`, zero to `default`.
URGENT = 1
NORMAL = 0
BACKGROUND = -1

RENEW_INTERVAL_SECONDS = 3600
TRASH_INTERVAL_SECONDS = 24 * 3600
ROLL_UP_INTERVAL_SECONDS = 3600


def queue_for(settings: Settings, priority: int) -> str:
    """The queue of a job of this priority among the configured WORKER_QUEUES (first = served first)."""
    names = settings.queue_names
    if priority > 0 and "high" in names:
        return "high"
    if priority < 0:
        return "low" if "low" in names else names[-1]
    return "default" if "default" in names else names[0]


def enqueue(
    services: Services,
    job: str,
    *args: object,
    priority: int = NORMAL,
    job_id: str | None = None,
    delay: timedelta | None = None,
) -> str:
    """Queue `job` (one of the names above) with JSON arguments; QueueError when the queue refuses it."""
    return services.queue.enqueue(
        job, *args, job_id=job_id, queue=queue_for(services.settings, priority), delay=delay
    )


def generation_queue_id(job_id: uuid.UUID, attempt: int) -> str:
    """One queue id per attempt: RQ refuses to reuse an id while it keeps the old job's record."""
    return f"gen-{job_id}-{attempt}"


def generation(services: Services, job_id: uuid.UUID, attempt: int, priority: int) -> None:
    """Queue one attempt of a generation job (the worker re-attaches to a stored provider request)."""
    enqueue(
        services,
        RUN_GENERATION,
        str(job_id),
        attempt,
        priority=URGENT if priority > 0 else NORMAL,
        job_id=generation_queue_id(job_id, attempt),
    )


def rerun(services: Services, job: str, args: tuple[object, ...], *, queue: str, job_id: str) -> str:
    """Queue a job again on the queue it ran on, as it was (a dead worker's job: `studio.duties`)."""
    return services.queue.enqueue(job, *args, job_id=job_id, queue=queue)
