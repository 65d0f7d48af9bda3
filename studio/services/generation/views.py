"""Jobs as pages show them: status, progress and logs, with the images' signed URLs (from the one cache)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob, Image
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.errors import NotFound
from studio.services.context import Services
from studio.services.generation import eta


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
    operation: str
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
    parent_image_id: uuid.UUID | None = None
    waiting_turn: bool = False  # queued in the fair queue: not yet handed to a worker
    eta_seconds: float | None = None  # until it is done (None once finished)
    batch_id: uuid.UUID | None = None
    fallback_endpoint: str | None = None  # where it reruns if the provider fails it
    fallback_of_id: uuid.UUID | None = None  # the failed job this one reran

    @property
    def finished(self) -> bool:
        return self.status.finished


def _owned(session: Any, account_id: uuid.UUID, job_id: uuid.UUID) -> GenerationJob:
    job: GenerationJob | None = session.scalar(
        sa.select(GenerationJob).where(GenerationJob.id == job_id, GenerationJob.owner_id == account_id)
    )
    if job is None:
        raise NotFound("No such job.")
    return job


def image_view(services: Services, image: Image) -> ImageView:
    files = services.files  # the progress panel asks every second: the same URLs until they near expiry
    extension = image.storage_key.rsplit(".", 1)[-1]
    return ImageView(
        id=image.id,
        width=image.width,
        height=image.height,
        seed=image.seed,
        content_type=image.content_type,
        url=files.url(image.storage_key),
        thumb_url=files.url(image.thumb_key or image.storage_key),
        download_url=files.url(image.storage_key, download_name=f"studio-{image.id}.{extension}"),
        nsfw=image.nsfw,
    )


def _view(services: Services, session: Any, job: GenerationJob, images: list[Image]) -> JobView:
    finished = JobStatus(job.status).finished
    return JobView(
        id=job.id,
        status=JobStatus(job.status),
        operation=job.operation,
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
        images=[image_view(services, image) for image in images],
        parent_image_id=job.parent_image_id,
        waiting_turn=not finished and job.dispatched_at is None,
        eta_seconds=None if finished else eta.job_eta(services, session, job),
        batch_id=job.batch_id,
        fallback_endpoint=job.fallback_endpoint,
        fallback_of_id=job.fallback_of_id,
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
        return _view(services, uow.session, job, images)


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
        return [_view(services, uow.session, job, images[job.id]) for job in rows]
