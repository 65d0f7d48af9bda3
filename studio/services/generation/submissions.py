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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from studio.adapters.db.models import Batch, GenerationJob, Image, Project, User, utcnow
from studio.domain.catalogue import SEED_MAX, ModelSpec
from studio.domain.credits import LedgerKind, Price, price
from studio.domain.generation import JobStatus, Operation
from studio.domain.parameters import Request, carried_over, provider_arguments
from studio.errors import (
    Forbidden,
    InsufficientCredits,
    InvalidInput,
    InvalidParameters,
    NotFound,
    ProviderFailure,
    StudioError,
    quota_message,
)
from studio.services.billing import ledger, plans, usage
from studio.services.context import Services
from studio.services.generation import catalogue, fair, inputs, lifecycle
from studio.services.generation.views import JobView, get_job
from studio.services.prompts import templates

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


@dataclass(frozen=True)
class Edit:
    """What the studio adds to a request that starts from an image: the operation it runs, the fields it
    sets itself (a mask, an outpaint's canvas), and the image the outputs descend from when that is not
    the request's own image (a variation of an image-to-image output re-uses that job's input)."""

    operation: Operation
    studio_fields: dict[str, Any] = field(default_factory=dict)
    mask_key: str | None = None
    parent_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Planned:
    """A request validated and priced, with everything its job row needs."""

    spec: ModelSpec
    request: Request
    arguments: dict[str, Any]
    cost: Price
    operation: Operation
    parent: Image | None  # detached from its session: plain values only
    input_ids: list[str]
    mask_key: str | None


def with_seed(spec: ModelSpec, request: Request) -> Request:
    """Pick the seed here when the person did not, so the stored request replays exactly."""
    if spec.param("seed") is None or request.params.get("seed") is not None:
        return request
    return replace(request, params=dict(request.params) | {"seed": secrets.randbelow(SEED_MAX + 1)})


def owned_image(services: Services, account_id: uuid.UUID, image_id: uuid.UUID | str) -> Image:
    """One of the account's images (not in the trash), detached; NotFound for anything else, so another
    person's image id, a made-up one or a trashed one are all the same refusal."""
    try:
        wanted = image_id if isinstance(image_id, uuid.UUID) else uuid.UUID(str(image_id))
    except ValueError:
        raise NotFound("No such image.") from None
    with services.uow() as uow:
        image = uow.session.scalar(
            sa.select(Image).where(
                Image.id == wanted, Image.owner_id == account_id, Image.deleted_at.is_(None)
            )
        )
        if image is None:
            raise NotFound("No such image.")
        uow.session.expunge(image)
    return image


def plan(
    services: Services,
    account_id: uuid.UUID,
    request: Request,
    edit: Edit | None = None,
    spec: ModelSpec | None = None,
) -> Planned:
    """Validate and price a request: the model (`spec` when the caller read it already), its parameters,
    and the images it starts from (the account's own, checked here)."""
    spec = spec or catalogue.model_spec(services, request.model)
    source = owned_image(services, account_id, request.image_id) if request.image_id else None
    fields = dict(edit.studio_fields) if edit else {}
    if spec.takes_image:
        if source is None:
            raise InvalidParameters([f"{spec.name} starts from an image: upload one, or Remix one of yours."])
        fields["image_url"] = inputs.reference(source.storage_key)
    if edit is not None:
        operation = edit.operation
    elif spec.takes_image:
        operation = Operation.IMAGE_TO_IMAGE
    else:
        operation = Operation.REMIX if source is not None else Operation.TEXT_TO_IMAGE
    parent = source
    if edit is not None and edit.parent_id is not None:
        parent = owned_image(services, account_id, edit.parent_id)
    arguments = provider_arguments(spec, request, fields)
    size = (source.width, source.height) if source is not None else None
    cost = price(spec, arguments, size)
    input_ids = [str(source.id)] if source is not None and spec.takes_image else []
    return Planned(
        spec, request, arguments, cost, operation, parent, input_ids, edit.mask_key if edit else None
    )


def price_of(services: Services, account_id: uuid.UUID, request: Request, edit: Edit | None = None) -> Price:
    """The price of a request alone (no balance read): for the many prices a page shows at once."""
    return plan(services, account_id, request, edit).cost


def quote(services: Services, account_id: uuid.UUID, request: Request, edit: Edit | None = None) -> Quote:
    """Validate and price a request for the cost preview; InvalidParameters explains what is wrong."""
    planned = plan(services, account_id, request, edit)
    return Quote(
        planned.spec,
        planned.arguments,
        planned.cost,
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
    edit: Edit | None = None,
    fallback_model: str | None = None,
) -> JobView:
    """Accept a request: reserve its credits and create its job, then let the fair queue send it. Same
    key, same job; the same request sent again within REPEAT_SECONDS while its job runs (clicks a rerender
    apart) is the same job too, unless `again` (the person asked for another run). With `project_id` (one
    of the account's projects) the images go into that project. A request with an `image_id` starts from
    that image (one of the account's): the input of an image-to-image model, else the parent of a remix;
    `edit` says what else an operation on an image (`studio.services.generation.iterate`) sends. With
    `fallback_model`, a job the provider fails runs once more there (`fall_back`)."""
    if not idempotency_key or len(idempotency_key) > _KEY_MAX:
        raise InvalidInput("a submission needs an idempotency key of 1-128 characters")
    existing = _find_by_key(services, account_id, idempotency_key)
    if existing is not None:
        return existing
    check_may_generate(services, account_id)
    services.limit(services.settings.rate_limit_generations, "generations", str(account_id))
    if project_id is not None:
        check_project(services, account_id, project_id)
    plans.renew_if_due(services, account_id)
    spec = catalogue.model_spec(services, request.model)
    fallback = check_fallback(services, spec, fallback_model)
    fingerprint = _fingerprint(request, project_id, edit)
    # A template becomes its prompt here, with the pick seed kept: the job replays the same prompt.
    request = templates.expand(services, account_id, request)
    planned = plan(services, account_id, with_seed(spec, request), edit, spec)
    job = new_job(
        services,
        account_id,
        planned,
        idempotency_key,
        priority=priority,
        project_id=project_id,
        fingerprint=fingerprint,
        fallback_endpoint=fallback,
    )
    try:
        with services.uow() as uow:
            # One submission of an account at a time from here to the commit: a repeat sees this one.
            uow.session.execute(sa.select(User.id).where(User.id == account_id).with_for_update())
            repeat = None if again else _recent_repeat(uow.session, account_id, fingerprint, job.created_at)
            if repeat is None:
                uow.session.add(job)
                uow.session.flush()
                reserve(uow.session, job, spec)
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
    fair.dispatch_quietly(services)
    alert_quietly(services, account_id)
    return get_job(services, account_id, job.id)


def new_job(
    services: Services,
    account_id: uuid.UUID,
    planned: Planned,
    idempotency_key: str,
    *,
    priority: int = 0,
    project_id: uuid.UUID | None = None,
    fingerprint: str | None = None,
    fallback_endpoint: str | None = None,
    batch: tuple[uuid.UUID, int] | None = None,
    fallback_of: uuid.UUID | None = None,
    now: datetime | None = None,
) -> GenerationJob:
    """The row of a planned request, waiting for its turn (not added to any session yet). `batch`: the
    batch and its row this job runs."""
    request, spec, parent, cost = planned.request, planned.spec, planned.parent, planned.cost
    return GenerationJob(
        id=uuid.uuid4(),
        owner_id=account_id,
        operation=planned.operation.value,
        model_endpoint=spec.endpoint_id,
        params=planned.arguments,
        request=request.to_json(),
        # A tool's outputs (an upscale, a cut-out) keep the prompt of what they were made from.
        prompt=request.prompt.strip() or (parent.prompt if parent is not None else ""),
        parent_image_id=parent.id if parent is not None else None,
        input_image_ids=planned.input_ids,
        mask_key=planned.mask_key,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        provider=services.settings.provider_mode,
        status=JobStatus.QUEUED.value,
        num_images=cost.images,
        credits_reserved=cost.credits,
        priority=priority,
        project_id=project_id,
        batch_id=batch[0] if batch else None,
        batch_row=batch[1] if batch else None,
        fallback_endpoint=fallback_endpoint,
        fallback_of_id=fallback_of,
        attempts=1,
        created_at=now or utcnow(),
    )


def reserve(session: Session, job: GenerationJob, spec: ModelSpec) -> None:
    """The job's reservation, in the caller's transaction (InsufficientCredits when it does not fit)."""
    images = job.num_images
    ledger.change_balance(
        session,
        job.owner_id,
        -job.credits_reserved,
        LedgerKind.RESERVE,
        f"Reserved for {images} image{'s' if images != 1 else ''} with {spec.name}",
        ref_type="job",
        ref_id=str(job.id),
        job_id=job.id,
        dedupe_key=f"reserve:{job.id}",
    )


def check_fallback(services: Services, spec: ModelSpec, fallback_model: str | None) -> str | None:
    """The fallback model's endpoint, once it is an enabled model of the same kind as `spec`."""
    if not fallback_model:
        return None
    fallback = catalogue.model_spec(services, fallback_model)
    if fallback.endpoint_id == spec.endpoint_id:
        raise InvalidInput("The fallback model must be another model than the one the job runs.")
    if fallback.operation != spec.operation or fallback.takes_image != spec.takes_image:
        raise InvalidInput(f"{fallback.name} cannot stand in for {spec.name}: they do different things.")
    return fallback.endpoint_id


#: The failures a fallback model is for: the provider's, not the request's nor the studio's.
FALLBACK_CODES = frozenset(
    {
        ProviderFailure.UNAVAILABLE.value,
        ProviderFailure.BAD_OUTPUT.value,
        ProviderFailure.FAILED.value,
        "timeout",
    }
)


def fall_back(services: Services, job_id: uuid.UUID) -> uuid.UUID | None:
    """Run a job the provider failed once more on its fallback model, priced at that model's cost and
    recorded as its fallback (`fallback_of_id`); the new job's id, or None when there is none to run.
    Exactly once: the new job's idempotency key is the failed job's."""
    with services.uow() as uow:
        failed = uow.session.get(GenerationJob, job_id)
        if failed is None:
            return None
        uow.session.expunge(failed)
        batch_cancelled = failed.batch_id is not None and uow.session.scalar(
            sa.select(Batch.cancelled_at.is_not(None)).where(Batch.id == failed.batch_id)
        )
    eligible = (
        not batch_cancelled
        and failed.status == JobStatus.FAILED.value
        and failed.fallback_endpoint
        and failed.fallback_of_id is None
        and failed.error_code in FALLBACK_CODES
        and failed.cancel_requested_at is None
    )
    if not eligible:
        return None
    key = f"fallback:{failed.id}"
    try:
        spec = catalogue.model_spec(services, str(failed.fallback_endpoint))
        request = carried_over(Request.from_json(failed.request), spec)
        planned = plan(services, failed.owner_id, request, None, spec)
        job = new_job(
            services,
            failed.owner_id,
            planned,
            key,
            priority=failed.priority,
            project_id=failed.project_id,
            batch=(failed.batch_id, failed.batch_row or 0) if failed.batch_id else None,
            fallback_of=failed.id,
        )
        with services.uow() as uow:
            uow.session.add(job)
            uow.session.flush()
            reserve(uow.session, job, spec)
            uow.commit()
    except IntegrityError:
        return None  # its fallback exists already
    except StudioError as err:  # a model switched off, or not enough credits left: the failure stands
        log.info("job %s: no fallback run (%s)", failed.id, err)
        return None
    log.info("job %s failed at the provider: its fallback %s runs on %s", failed.id, job.id, spec.endpoint_id)
    return job.id


def _fingerprint(request: Request, project_id: uuid.UUID | None, edit: Edit | None) -> str:
    """The request as the person sent it (before a seed is picked for them), what an operation adds to
    it, and where its images go."""
    sent = {
        "request": request.to_json(),
        "project": str(project_id) if project_id else None,
        "edit": [edit.operation.value, edit.studio_fields, edit.mask_key, str(edit.parent_id)]
        if edit
        else None,
    }
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


def alert_quietly(services: Services, account_id: uuid.UUID) -> None:
    """The 80 % / 100 % usage mail; the job is accepted whatever happens here."""
    try:
        usage.alert_if_due(services, account_id)
    except (StudioError, SQLAlchemyError):
        log.exception("could not check the usage alerts of %s", account_id)


UNVERIFIED = (
    "Confirm your email address first: open the link we mailed you (your Account page can send it again)."
)


def check_may_generate(services: Services, account_id: uuid.UUID) -> None:
    """Only active accounts generate, and only verified ones when REQUIRE_EMAIL_VERIFICATION is on."""
    with services.uow() as uow:
        user = uow.users.get(account_id)
        if user is None or user.disabled_at is not None or user.deleted_at is not None:
            raise Forbidden("This account cannot generate images.")
        if services.settings.require_email_verification and user.email_verified_at is None:
            raise Forbidden(UNVERIFIED)


def check_project(services: Services, account_id: uuid.UUID, project_id: uuid.UUID) -> None:
    with services.uow() as uow:
        found = uow.session.scalar(
            sa.select(Project.id).where(
                Project.id == project_id, Project.owner_id == account_id, Project.archived_at.is_(None)
            )
        )
    if found is None:
        raise NotFound("No such project (or it is archived).")


def job_request(services: Services, account_id: uuid.UUID, job_id: uuid.UUID) -> Request | None:
    """The stored request of one of the account's jobs (None when it kept none: an erased one)."""
    with services.uow() as uow:
        stored = uow.session.scalar(
            sa.select(GenerationJob.request).where(
                GenerationJob.id == job_id, GenerationJob.owner_id == account_id
            )
        )
    return Request.from_json(stored) if stored else None


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
