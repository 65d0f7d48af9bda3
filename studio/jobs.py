"""The job functions workers run (RQ in production, the in-process runner in embedded mode).

Each takes ids only and gets its services from `bootstrap.services()`, built in the worker process.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from studio import bootstrap
from studio.bootstrap import Services
from studio.errors import QueueError

log = logging.getLogger(__name__)
RENEW_INTERVAL_SECONDS = 3600
TRASH_INTERVAL_SECONDS = 24 * 3600
ROLL_UP_INTERVAL_SECONDS = 3600


def run_generation(job_id: str, attempt: int) -> None:
    """Step 2-3 of the pipeline for one job (see studio.services.pipeline)."""
    from studio.services.pipeline import JobRun

    JobRun(bootstrap.services(), uuid.UUID(job_id), attempt).run()


def send_mail(to: str, subject: str, text: str) -> None:
    """Hand one mail to the mailer (SMTP, or the outbox in embedded mode)."""
    from studio.adapters.mail import Email

    bootstrap.services().mailer.send(Email(to=to, subject=subject, text=text))
    log.info("mail sent: %s", subject)


def reconcile() -> None:
    """Resolve stuck jobs, then schedule the next pass."""
    from studio.services.reconciler import reconcile as reconcile_jobs

    services = bootstrap.services()
    try:
        outcome = reconcile_jobs(services)
        if outcome.redispatched or outcome.failed:
            log.info(
                "reconciler: %d dispatched again, %d failed", len(outcome.redispatched), len(outcome.failed)
            )
    finally:
        schedule_reconciler(services)


def renew_plans() -> None:
    """Renew every free cycle that has ended, then schedule the next pass (hourly)."""
    from studio.services.plans import renew_due

    services = bootstrap.services()
    try:
        renewed = renew_due(services)
        if renewed:
            log.info("plans: %d free cycles renewed", renewed)
    finally:
        schedule_renewals(services)


def schedule_renewals(services: Services) -> None:
    """Queue the next renewal pass; one id per hour, so one pass runs however many processes start."""
    _schedule_slot(services, renew_plans, "renew-plans", RENEW_INTERVAL_SECONDS)


def roll_up_analytics() -> None:
    """Roll up the closed days the admin analytics add up, then schedule the next pass (hourly)."""
    from studio.services.rollups import roll_up

    services = bootstrap.services()
    try:
        days = roll_up(services)
        if days:
            log.info("analytics: %d days rolled up, %s to %s", len(days), days[0], days[-1])
    finally:
        schedule_rollups(services)


def schedule_rollups(services: Services) -> None:
    """Queue the next roll-up pass; one id per hour, so one pass runs however many processes start."""
    _schedule_slot(services, roll_up_analytics, "roll-up-analytics", ROLL_UP_INTERVAL_SECONDS)


def schedule_reconciler(services: Services) -> None:
    """Queue the next reconciler pass. Every process computes the same id per time slot, so however many
    apps and workers start, one pass runs per interval."""
    _schedule_slot(services, reconcile, "reconcile", services.settings.reconcile_interval_seconds)


def _schedule_slot(services: Services, func: Callable[[], None], name: str, interval: int) -> None:
    now = time.time()
    slot = int(now // interval) + 1
    try:
        services.queue.enqueue(
            func,
            job_id=f"{name}-{slot}",
            queue="low" if "low" in services.settings.queue_names else services.settings.queue_names[-1],
            delay=timedelta(seconds=max(0.0, slot * interval - now)),
        )
    except QueueError:
        log.exception("could not schedule %s", name)


def build_export(export_id: str) -> None:
    """Build one "export my data" ZIP (see studio.services.account_data)."""
    from studio.services.account_data import build_export as build

    build(bootstrap.services(), uuid.UUID(export_id))


def purge_account(user_id: str) -> None:
    """Erase a deleted account's files and personal data (see studio.services.account_data)."""
    from studio.services.account_data import purge_account as purge

    purge(bootstrap.services(), uuid.UUID(user_id))


def build_zip(owner_id: str, download_id: str, image_ids: list[str]) -> None:
    """Build one gallery download ZIP (see studio.services.downloads)."""
    from studio.services.downloads import build_zip as build

    build(
        bootstrap.services(), uuid.UUID(owner_id), uuid.UUID(download_id), [uuid.UUID(i) for i in image_ids]
    )


def purge_trash() -> None:
    """Erase images kept in a trash past TRASH_RETENTION_DAYS, then schedule the next pass (daily)."""
    from studio.services.trash import purge_expired

    services = bootstrap.services()
    try:
        erased = purge_expired(services)
        if erased:
            log.info("trash: %d images erased", erased)
    finally:
        schedule_trash_purge(services)


def schedule_trash_purge(services: Services) -> None:
    """Queue the next trash purge; one id per day, so one pass runs however many processes start."""
    _schedule_slot(services, purge_trash, "purge-trash", TRASH_INTERVAL_SECONDS)
