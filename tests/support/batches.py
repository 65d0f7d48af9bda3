"""Batches for the service tests: a draft, a batch's jobs read back, and a job's outcome played as a worker
would leave it (no worker runs: the tests drive `studio.services.generation.lifecycle` themselves)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import Batch, GenerationJob, Image, Plan, Subscription
from studio.domain.batches import Priority, Row, Source
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.batches.runs import Draft
from studio.services.context import Services
from studio.services.generation import lifecycle

SCHNELL = "fal-ai/flux/schnell"  # 1 credit an image at 512×512
ULTRA = "fal-ai/flux-pro/v1.1-ultra"  # 3 credits an image, whatever the size
SQUARE = {"image_size": "square"}


def draft(
    rows: list[Row] | list[str],
    *,
    name: str = "A batch",
    source: Source = Source.LINES,
    model: str = SCHNELL,
    params: dict[str, Any] | None = None,
    priority: Priority = Priority.NORMAL,
    **fields: Any,
) -> Draft:
    """A batch of `rows` (prompts or rows) on `model`, at 512×512 unless `params` say otherwise."""
    made = [row if isinstance(row, Row) else Row(row) for row in rows]
    request = Request(model, "", params=dict(SQUARE if params is None else params))
    return Draft(name, source, request, made, priority=priority, **fields)


def jobs_of(services: Services, batch_id: uuid.UUID) -> list[GenerationJob]:
    """Every job of the batch (each run of each row), in row order then oldest first, detached."""
    with services.uow() as uow:
        jobs = list(
            uow.session.scalars(
                sa.select(GenerationJob)
                .where(GenerationJob.batch_id == batch_id)
                .order_by(GenerationJob.batch_row, GenerationJob.created_at, GenerationJob.id)
            )
        )
        uow.session.expunge_all()
    return jobs


def batch_row(services: Services, batch_id: uuid.UUID) -> Batch:
    with services.uow() as uow:
        batch = uow.session.get(Batch, batch_id)
        assert batch is not None
        uow.session.expunge(batch)
    return batch


def count(services: Services, model: type[Any], *where: sa.ColumnElement[bool]) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)


def dispatched(services: Services, owner_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """The unfinished jobs the fair queue has let go (of one owner, or everybody's), in the order it did."""
    query = sa.select(GenerationJob.id).where(
        GenerationJob.dispatched_at.is_not(None), GenerationJob.status.in_(lifecycle.UNFINISHED)
    )
    if owner_id is not None:
        query = query.where(GenerationJob.owner_id == owner_id)
    with services.uow() as uow:
        return list(uow.session.scalars(query.order_by(GenerationJob.dispatched_at)))


def at_provider(services: Services, job_id: uuid.UUID) -> None:
    """A worker took the job and the provider accepted it (it runs there now)."""
    with services.uow() as uow:
        job = lifecycle.lock(uow.session, job_id)
        assert job is not None
        lifecycle.claim(job, sending=True)
        lifecycle.submitted(job, f"req-{job_id.hex[:12]}")
        uow.commit()


def finish(services: Services, job_id: uuid.UUID) -> list[uuid.UUID]:
    """The job succeeds with every image it was asked for (each priced at its share of the reservation),
    as the worker leaves it; the images' ids."""
    with services.uow() as uow:
        job = lifecycle.lock(uow.session, job_id)
        assert job is not None
        assert not JobStatus(job.status).finished
        lifecycle.claim(job, sending=True)
        if job.provider_request_id is None:
            lifecycle.submitted(job, f"req-{job_id.hex[:12]}")
        seed = job.params.get("seed")
        images = [
            Image(
                id=uuid.uuid4(),
                owner_id=job.owner_id,
                job_id=job.id,
                prompt=job.prompt,
                model_endpoint=job.model_endpoint,
                params=job.params,
                seed=seed if isinstance(seed, int) else None,
                width=512,
                height=512,
                content_type="image/png",
                byte_size=100,
                storage_key=f"users/{job.owner_id}/images/{job.id.hex}-{index}.png",
                credits=job.credits_reserved // job.num_images,
            )
            for index in range(job.num_images)
        ]
        uow.session.add_all(images)
        uow.session.flush()
        lifecycle.succeed(uow.session, job, images)
        uow.commit()
        return [image.id for image in images]


def end(services: Services, job_id: uuid.UUID, code: str, status: JobStatus = JobStatus.FAILED) -> None:
    """The job ends without images (`code`: how, e.g. a ProviderFailure value), refunded, as a worker ends
    it."""
    with services.uow() as uow:
        job = lifecycle.lock(uow.session, job_id)
        assert job is not None
        assert lifecycle.resolve(uow.session, job, status, code, "It ended without images.")
        uow.commit()


def put_on_plan(services: Services, user_id: uuid.UUID, code: str) -> None:
    """Move the account's subscription to another plan (as an admin's assignment does), its cycle kept."""
    with services.uow() as uow:
        plan_id = uow.session.scalar(sa.select(Plan.id).where(Plan.code == code))
        assert plan_id is not None
        uow.session.execute(
            sa.update(Subscription).where(Subscription.user_id == user_id).values(plan_id=plan_id)
        )
        uow.commit()


def with_slots(services: Services, slots: int) -> Services:
    """The same services with another GENERATION_SLOTS."""
    settings = services.settings.model_copy(update={"generation_slots": slots})
    return dataclasses.replace(services, settings=settings)
