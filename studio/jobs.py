"""The job functions workers run (RQ in production, the in-process runner in embedded mode).

Each takes ids only and gets its services from `bootstrap.services()`, built in the worker process. Services
queue them by name (`studio.services.dispatch`): this module sits on top, beside the composition root, and
nothing in `studio` imports it.
"""

from __future__ import annotations

import logging
import uuid

from studio import bootstrap
from studio.adapters.mail import Email
from studio.services.accounts import deletion, export
from studio.services.analytics import rollups
from studio.services.batches import export as batch_export
from studio.services.billing import plans
from studio.services.generation import fair
from studio.services.generation.pipeline import JobRun
from studio.services.library import downloads, trash

log = logging.getLogger(__name__)


def run_generation(job_id: str, attempt: int) -> None:
    """Step 2-3 of the pipeline for one job (see studio.services.generation.pipeline); the fair queue
    hands the slot it frees to the next job (as soon as the provider is done with it)."""
    services = bootstrap.services()
    run = JobRun(services, uuid.UUID(job_id), attempt)
    try:
        run.run()
    finally:
        if not run.handed_on:  # it ended without a result (failed, cancelled): its slot is free now
            fair.soon(services)


def send_mail(to: str, subject: str, text: str) -> None:
    """Hand one mail to the mailer (SMTP, or the outbox in embedded mode)."""
    bootstrap.services().mailer.send(Email(to=to, subject=subject, text=text))
    log.info("mail sent: %s", subject)


def renew_plans() -> None:
    """Renew every free cycle that has ended (an hourly pass of `studio.duties`)."""
    renewed = plans.renew_due(bootstrap.services())
    if renewed:
        log.info("plans: %d free cycles renewed", renewed)


def roll_up_analytics() -> None:
    """Roll up the closed days the admin analytics add up (an hourly pass of `studio.duties`)."""
    days = rollups.roll_up(bootstrap.services())
    if days:
        log.info("analytics: %d days rolled up, %s to %s", len(days), days[0], days[-1])


def purge_trash() -> None:
    """Erase images kept in a trash past TRASH_RETENTION_DAYS (a daily pass of `studio.duties`)."""
    erased = trash.purge_expired(bootstrap.services())
    if erased:
        log.info("trash: %d images erased", erased)


def build_export(export_id: str) -> None:
    """Build one "export my data" ZIP (see studio.services.accounts.export)."""
    export.build_export(bootstrap.services(), uuid.UUID(export_id))


def purge_account(user_id: str) -> None:
    """Erase a deleted account's files and personal data (see studio.services.accounts.deletion)."""
    deletion.purge_account(bootstrap.services(), uuid.UUID(user_id))


def build_zip(owner_id: str, download_id: str, image_ids: list[str]) -> None:
    """Build one gallery download ZIP (see studio.services.library.downloads)."""
    downloads.build_zip(
        bootstrap.services(), uuid.UUID(owner_id), uuid.UUID(download_id), [uuid.UUID(i) for i in image_ids]
    )


def build_batch_zip(owner_id: str, batch_id: str, download_id: str) -> None:
    """Build one batch's ZIP with its manifest and report (see studio.services.batches.export)."""
    batch_export.build(bootstrap.services(), uuid.UUID(owner_id), uuid.UUID(batch_id), uuid.UUID(download_id))
