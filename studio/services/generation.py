"""Generation use cases for pages: price a request, start a job, follow it, cancel it, recall it.

`start_generation` is step 1 of the pipeline in ARCHITECTURE.md: it validates, prices, reserves the credits
and creates the job row in one transaction, then enqueues the job id. Nothing here waits on a provider.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from studio.adapters.db.models import GenerationJob, Image, Project, utcnow
from studio.bootstrap import Services
from studio.domain.catalogue import SEED_MAX, ModelSpec
from studio.domain.credits import LedgerKind, Price, price
from studio.domain.generation import JobStatus, Operation
from studio.domain.parameters import Request, provider_arguments
from studio.errors import (
    Forbidden,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    QueueError,
    StudioError,
    quota_message,
)
from studio.services import catalogue, credits, plans

log = logging.getLogger(__name__)

URL_LIFETIME = 3600
_KEY_MAX = 128


@dataclass(frozen=True)
class ImageView:
    id: uuid.UUID
    width: int
    height: int
    seed: int | None
    content_type: str
    url: str
    thumb_url: str
    download_url: str
    nsfw: bool


@dataclass(frozen=True)
class JobView:
    """A job as pages show it: plain values only."""

    id: uuid.UUID
    status: JobStatus
    model_endpoint: str
    provider: str
    prompt: str
    request: Request
    num_images: int
    queue_position: int | None
    progress: float
    logs: list[str]
    error_message: str | None
    credits_reserved: int
    credits_settled: int | None
    created_at: datetime
    finished_at: datetime | None
    cancel_requested: bool
    images: list[ImageView]

    @property
    def finished(self) -> bool:
        return self.status.finished


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


def rq_job_id(job_id: uuid.UUID, attempt: int) -> str:
    """One queue id per attempt: RQ refuses to reuse an id while it keeps the old job's record."""
    return f"gen-{job_id}-{attempt}"


def _with_seed(spec: ModelSpec, request: Request) -> Request:
    """Pick the seed here when the person did not, so the stored request replays exactly."""
    if spec.param("seed") is None or request.params.get("seed") is not None:
        return request
    params = dict(request.params) | {"seed": secrets.randbelow(SEED_MAX + 1)}
    return Request(request.model, request.prompt, request.negative_prompt, request.style, params)


def quote(services: Services, account_id: uuid.UUID, request: Request) -> Quote:
    """Validate and price a request for the cost preview; InvalidParameters explains what is wrong."""
    spec = catalogue.model_spec(services.uow(), request.model)
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
) -> JobView:
    """Accept a request: reserve its credits and create its job, then queue it. Same key, same job.
    With `project_id` (one of the account's projects) the images go into that project."""
    if not idempotency_key or len(idempotency_key) > _KEY_MAX:
        raise InvalidInput("a submission needs an idempotency key of 1-128 characters")
    existing = _find_by_key(services, account_id, idempotency_key)
    if existing is not None:
        return existing
    _check_may_generate(services, account_id)
    if project_id is not None:
        _check_project(services, account_id, project_id)
    plans.renew_if_due(services, account_id)
    spec = catalogue.model_spec(services.uow(), request.model)
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
            uow.session.add(job)
            uow.session.flush()
            credits.change_balance(
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
    _dispatch(services, job.id, 1, priority)
    _alert_quietly(services, account_id)
    return get_job(services, account_id, job.id)


def renewal_date(services: Services, account_id: uuid.UUID) -> date | None:
    """The day this account's credits renew (its free cycle renewed first if it had ended)."""
    found = plans.cycle(services, account_id)
    return found[2].date() if found else None


def _alert_quietly(services: Services, account_id: uuid.UUID) -> None:
    """The 80 % / 100 % usage mail; the job is accepted whatever happens here."""
    from studio.services import usage

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


def _dispatch(services: Services, job_id: uuid.UUID, attempt: int, priority: int) -> None:
    from studio import jobs  # the job functions import services; import them only when queueing

    queue = "high" if priority > 0 and "high" in services.settings.queue_names else "default"
    if queue not in services.settings.queue_names:
        queue = services.settings.queue_names[0]
    try:
        services.queue.enqueue(
            jobs.run_generation, str(job_id), attempt, job_id=rq_job_id(job_id, attempt), queue=queue
        )
    except QueueError:
        log.exception("could not queue job %s", job_id)
        from studio.services import pipeline

        pipeline.finish_failed(
            services, job_id, "queue", "The job could not be queued; your credits were returned."
        )
        raise QueueError(
            "The studio could not queue your job right now; your credits were returned."
        ) from None


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
    from studio.services import pipeline

    with services.uow() as uow:
        job = _owned(uow.session, account_id, job_id, lock=True)
        status = JobStatus(job.status)
        if status.finished:
            raise InvalidInput(f"This job has already {status.value}.")
        if job.cancel_requested_at is None:
            job.cancel_requested_at = utcnow()
        waiting = status is JobStatus.QUEUED and job.provider_request_id is None
        if waiting:
            pipeline.resolve(
                uow.session, job, JobStatus.CANCELLED, "cancelled", "Cancelled before it started."
            )
        uow.commit()
    return get_job(services, account_id, job_id)


def _owned(session: Any, account_id: uuid.UUID, job_id: uuid.UUID, *, lock: bool = False) -> GenerationJob:
    query = sa.select(GenerationJob).where(GenerationJob.id == job_id, GenerationJob.owner_id == account_id)
    if lock:
        query = query.with_for_update()
    job: GenerationJob | None = session.scalar(query)
    if job is None:
        raise NotFound("No such job.")
    return job


def _image_view(services: Services, image: Image) -> ImageView:
    storage = services.storage
    thumb = image.thumb_key or image.storage_key
    extension = image.storage_key.rsplit(".", 1)[-1]
    return ImageView(
        id=image.id,
        width=image.width,
        height=image.height,
        seed=image.seed,
        content_type=image.content_type,
        url=storage.url(image.storage_key, URL_LIFETIME),
        thumb_url=storage.url(thumb, URL_LIFETIME),
        download_url=storage.url(
            image.storage_key, URL_LIFETIME, download_name=f"studio-{image.id}.{extension}"
        ),
        nsfw=image.nsfw,
    )


def _view(services: Services, job: GenerationJob, images: list[Image]) -> JobView:
    return JobView(
        id=job.id,
        status=JobStatus(job.status),
        model_endpoint=job.model_endpoint,
        provider=job.provider,
        prompt=job.prompt,
        request=Request.from_json(job.request),
        num_images=job.num_images,
        queue_position=job.queue_position,
        progress=job.progress,
        logs=[str(line) for line in job.logs],
        error_message=job.error_message,
        credits_reserved=job.credits_reserved,
        credits_settled=job.credits_settled,
        created_at=job.created_at,
        finished_at=job.finished_at,
        cancel_requested=job.cancel_requested_at is not None,
        images=[_image_view(services, image) for image in images],
    )


def _images_by_job(session: Any, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Image]]:
    found: dict[uuid.UUID, list[Image]] = {job_id: [] for job_id in job_ids}
    if job_ids:
        query = (
            sa.select(Image)
            .where(Image.job_id.in_(job_ids), Image.deleted_at.is_(None))
            .order_by(Image.created_at, Image.storage_key)
        )
        for image in session.scalars(query):
            found[image.job_id].append(image)
    return found


def get_job(services: Services, account_id: uuid.UUID, job_id: uuid.UUID) -> JobView:
    """One job of this account with its images; NotFound for anybody else's."""
    with services.uow() as uow:
        job = _owned(uow.session, account_id, job_id)
        images = _images_by_job(uow.session, [job.id])[job.id]
        return _view(services, job, images)


def recent_jobs(services: Services, account_id: uuid.UUID, limit: int = 20) -> list[JobView]:
    """This account's newest jobs, newest first, with their images."""
    with services.uow() as uow:
        rows = list(
            uow.session.scalars(
                sa.select(GenerationJob)
                .where(GenerationJob.owner_id == account_id)
                .order_by(GenerationJob.created_at.desc(), GenerationJob.id.desc())
                .limit(limit)
            )
        )
        images = _images_by_job(uow.session, [job.id for job in rows])
        return [_view(services, job, images[job.id]) for job in rows]


def balance(services: Services, account_id: uuid.UUID) -> int:
    """The credits the account can spend now (its free cycle renewed first if it has ended)."""
    plans.renew_if_due(services, account_id)
    with services.uow() as uow:
        return credits.balance(uow.session, account_id)
