"""Generation use cases for pages: price a request, start a job, cancel it (`views` follows it).

`start_generation` is step 1 of the pipeline in ARCHITECTURE.md: it validates, prices, reserves the credits
and creates the job row in one transaction, then enqueues the job id. Nothing here waits on a provider.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, Project, User, utcnow
from studio.domain.catalogue import SEED_MAX, ModelSpec
from studio.domain.credits import LedgerKind, Price, price
from studio.domain.generation import JobStatus, Operation
from studio.domain.parameters import Request, provider_arguments
from studio.errors import (
    Forbidden,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    StudioError,
    quota_message,
)
from studio.services.billing import ledger, plans, usage
from studio.services.context import Services
from studio.services.generation import catalogue, lifecycle
from studio.services.generation.views import JobView, get_job

log = logging.getLogger(__name__)

_KEY_MAX = 128
#: The same request sent again within this many seconds, while its job runs, is that job (clicks a rerender
#: apart).
REPEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Quote:
    """What a request would cost, before anything is reserved."""

    spec: ModelSpec
    arguments: dict[str, Any]
    price: Price
    balance: int
    renews_on: date | None = None

    @property
    def refusal(self) -> str:
        """Why this cannot be paid now: upgrade, or wait for the renewal."""
        return quota_message(self.price.credits, self.balance, self.renews_on)

    @property
    def affordable(self) -> bool:
        return self.price.credits <= self.balance


def _with_seed(spec: ModelSpec, request: Request) -> Request:
    """Pick the seed here when the person did not, so the stored request replays exactly."""
    if spec.param("seed") is None or request.params.get("seed") is not None:
        return request
    params = dict(request.params) | {"seed": secrets.randbelow(SEED_MAX + 1)}
    return Request(request.model, request.prompt, request.negative_prompt, request.style, params)


def quote(services: Services, account_id: uuid.UUID, request: Request) -> Quote:
    """Validate and price a request for the cost preview; InvalidParameters explains what is wrong."""
    spec = catalogue.model_spec(services, request.model)
    arguments = provider_arguments(spec, request)
    return Quote(
        spec,
        arguments,
        price(spec, arguments),
        balance(services, account_id),
        renewal_date(services, account_id),
    )


def start_generation(
    services: Services,
    account_id: uuid.UUID,
    request: Request,
    idempotency_key: str,
    *,
    priority: int = 0,
    project_id: uuid.UUID | None = None,
    again: bool = False,
) -> JobView:
    """Accept a request: reserve its credits and create its job, then queue it. Same key, same job; the
    same request sent again within REPEAT_SECONDS while its job runs (clicks a rerender apart) is the same
    job too, unless `again` (the person asked for another run). With `project_id` (one of the account's
    projects) the images go into that project."""
    if not idempotency_key or len(idempotency_key) > _KEY_MAX:
        raise InvalidInput("a submission needs an idempotency key of 1-128 characters")
    existing = _find_by_key(services, account_id, idempotency_key)
    if existing is not None:
        return existing
    _check_may_generate(services, account_id)
    if project_id is not None:
        _check_project(services, account_id, project_id)
    plans.renew_if_due(services, account_id)
    spec = catalogue.model_spec(services, request.model)
    fingerprint = _fingerprint(request, project_id)
    request = _with_seed(spec, request)
    arguments = provider_arguments(spec, request)
    cost = price(spec, arguments)
    now = utcnow()
    job = GenerationJob(
        id=uuid.uuid4(),
        owner_id=account_id,
        operation=Operation.TEXT_TO_IMAGE.value,
        model_endpoint=spec.endpoint_id,
        params=arguments,
        request=request.to_json(),
        prompt=request.prompt.strip(),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        provider=services.settings.provider_mode,
        status=JobStatus.QUEUED.value,
        num_images=cost.images,
        credits_reserved=cost.credits,
        priority=priority,
        project_id=project_id,
        attempts=1,
        created_at=now,
        deadline_at=now + timedelta(seconds=services.settings.generation_timeout_seconds),
    )
    try:
        with services.uow() as uow:
            # One submission of an account at a time from here to the commit: a repeat sees this one.
            uow.session.execute(sa.select(User.id).where(User.id == account_id).with_for_update())
            repeat = None if again else _recent_repeat(uow.session, account_id, fingerprint, now)
            if repeat is None:
                uow.session.add(job)
                uow.session.flush()
                ledger.change_balance(
                    uow.session,
                    account_id,
                    -cost.credits,
                    LedgerKind.RESERVE,
                    f"Reserved for {cost.images} image{'s' if cost.images != 1 else ''} with {spec.name}",
                    ref_type="job",
                    ref_id=str(job.id),
                    job_id=job.id,
                    dedupe_key=f"reserve:{job.id}",
                )
                uow.commit()
    except (
        InsufficientCredits
    ) as short:  # say when the credits come back, and that upgrading is the other way
        raise InsufficientCredits(short.needed, short.available, renewal_date(services, account_id)) from None
    except IntegrityError:
        # A concurrent submission with the same key won the race: show its job.
        existing = _find_by_key(services, account_id, idempotency_key)
        if existing is None:
            raise
        return existing
    if repeat is not None:
        log.info("job %s: the same request again within %s s, not a new job", repeat, REPEAT_SECONDS)
        return get_job(services, account_id, repeat)
    lifecycle.queue_attempt(services, job.id, 1, priority)
    _alert_quietly(services, account_id)
    return get_job(services, account_id, job.id)


def _fingerprint(request: Request, project_id: uuid.UUID | None) -> str:
    """The request as the person sent it (before a seed is picked for them), and where its images go."""
    sent = {"request": request.to_json(), "project": str(project_id) if project_id else None}
    return hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()


def _recent_repeat(
    session: Session, account_id: uuid.UUID, fingerprint: str, now: datetime
) -> uuid.UUID | None:
    """The unfinished job of the same request this account sent within REPEAT_SECONDS, if any (once it has
    ended, the person has seen it: a click then asks for another run)."""
    return session.scalar(
        sa.select(GenerationJob.id)
        .where(
            GenerationJob.owner_id == account_id,
            GenerationJob.fingerprint == fingerprint,
            GenerationJob.created_at > now - timedelta(seconds=REPEAT_SECONDS),
            GenerationJob.status.in_(lifecycle.UNFINISHED),
        )
        .order_by(GenerationJob.created_at.desc())
        .limit(1)
    )


def renewal_date(services: Services, account_id: uuid.UUID) -> date | None:
    """The day this account's credits renew (its free cycle renewed first if it had ended)."""
    found = plans.cycle(services, account_id)
    return found[2].date() if found else None


def _alert_quietly(services: Services, account_id: uuid.UUID) -> None:
    """The 80 % / 100 % usage mail; the job is accepted whatever happens here."""
    try:
        usage.alert_if_due(services, account_id)
    except (StudioError, SQLAlchemyError):
        log.exception("could not check the usage alerts of %s", account_id)


UNVERIFIED = (
    "Confirm your email address first: open the link we mailed you (your Account page can send it again)."
)


def _check_may_generate(services: Services, account_id: uuid.UUID) -> None:
    """Only active accounts generate, and only verified ones when REQUIRE_EMAIL_VERIFICATION is on."""
    with services.uow() as uow:
        user = uow.users.get(account_id)
        if user is None or user.disabled_at is not None or user.deleted_at is not None:
            raise Forbidden("This account cannot generate images.")
        if services.settings.require_email_verification and user.email_verified_at is None:
            raise Forbidden(UNVERIFIED)


def _check_project(services: Services, account_id: uuid.UUID, project_id: uuid.UUID) -> None:
    with services.uow() as uow:
        found = uow.session.scalar(
            sa.select(Project.id).where(
                Project.id == project_id, Project.owner_id == account_id, Project.archived_at.is_(None)
            )
        )
    if found is None:
        raise NotFound("No such project (or it is archived).")


def _find_by_key(services: Services, account_id: uuid.UUID, key: str) -> JobView | None:
    with services.uow() as uow:
        job_id = uow.session.scalar(
            sa.select(GenerationJob.id).where(
                GenerationJob.owner_id == account_id, GenerationJob.idempotency_key == key
            )
        )
    return get_job(services, account_id, job_id) if job_id else None


def cancel_job(services: Services, account_id: uuid.UUID, job_id: uuid.UUID) -> JobView:
    """Cancel a job of this account: at once while it waits for a worker, else at the worker's next poll."""
    with services.uow() as uow:
        job = lifecycle.lock(uow.session, job_id, owner_id=account_id)
        if job is None:
            raise NotFound("No such job.")
        status = JobStatus(job.status)
        if status.finished:
            raise InvalidInput(f"This job has already {status.value}.")
        lifecycle.request_cancel(uow.session, job)
        uow.commit()
    return get_job(services, account_id, job_id)


def balance(services: Services, account_id: uuid.UUID) -> int:
    """The credits the account can spend now (its free cycle renewed first if it has ended)."""
    plans.renew_if_due(services, account_id)
    with services.uow() as uow:
        return ledger.balance(uow.session, account_id)
