"""Batches as pages show them: one group per batch with its counts, progress, ETA and images as they
arrive, and its rows (the newest job of each: a retried or fallen-back row shows its latest run)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Batch, GenerationJob, Image, utcnow
from studio.domain.batches import Priority, Source
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.generation import JobStatus
from studio.errors import NotFound
from studio.services.context import Services
from studio.services.generation import eta
from studio.services.generation.views import ImageView, image_view

#: The counts a batch shows, in order, and the job statuses each covers.
COUNTS = {
    "queued": (JobStatus.QUEUED,),
    "running": (JobStatus.SUBMITTED, JobStatus.RUNNING),
    "done": (JobStatus.SUCCEEDED,),
    "failed": (JobStatus.FAILED,),
    "cancelled": (JobStatus.CANCELLED,),
}
_COUNT_OF = {status.value: name for name, statuses in COUNTS.items() for status in statuses}


@dataclass(frozen=True)
class BatchView:
    id: uuid.UUID
    name: str
    source: Source
    model_endpoint: str
    rows: int
    images: int
    credits_reserved: int  # what its rows hold now (reserved, not yet settled or refunded)
    credits_spent: int  # settled for images made
    counts: dict[str, int]
    priority: Priority
    paused: bool
    cancelled: bool
    run_at: datetime | None
    timezone: str
    fallback_endpoint: str | None
    created_at: datetime
    eta_seconds: float | None  # None once nothing is left to run

    @property
    def finished_rows(self) -> int:
        return self.counts["done"] + self.counts["failed"] + self.counts["cancelled"]

    @property
    def progress(self) -> float:
        return self.finished_rows / self.rows if self.rows else 1.0

    @property
    def scheduled(self) -> bool:
        return self.run_at is not None and self.run_at > utcnow() and not self.cancelled

    @property
    def state(self) -> str:
        """scheduled, paused, running, done or cancelled (in words for the page)."""
        unfinished = self.counts["queued"] + self.counts["running"]
        if unfinished == 0:
            return "cancelled" if self.cancelled and self.counts["cancelled"] else "done"
        if self.cancelled:
            return "finishing"  # cancelled: what was at the provider finishes
        if self.paused:
            return "paused"
        return "scheduled" if self.scheduled else "running"


@dataclass(frozen=True)
class RowView:
    number: int
    job_id: uuid.UUID
    prompt: str
    model_endpoint: str
    seed: int | None
    status: JobStatus
    credits_reserved: int
    credits_settled: int | None
    error_message: str | None
    fallback_of_id: uuid.UUID | None
    images: list[ImageView]


def _latest_jobs(batch_ids: list[uuid.UUID]) -> sa.Subquery:
    """The newest job of each row of these batches."""
    return (
        sa.select(
            GenerationJob,
            sa.func.row_number()
            .over(
                partition_by=(GenerationJob.batch_id, GenerationJob.batch_row),
                order_by=(GenerationJob.created_at.desc(), GenerationJob.id.desc()),
            )
            .label("newest"),
        )
        .where(GenerationJob.batch_id.in_(batch_ids))
        .subquery()
    )


@dataclass
class _Tally:
    counts: dict[str, int]
    held: int = 0  # credits its unfinished rows hold
    spent: int = 0  # credits settled for images made


def _tallies(session: Session, batch_ids: list[uuid.UUID]) -> dict[uuid.UUID, _Tally]:
    ranked = _latest_jobs(batch_ids)
    rows = session.execute(
        sa.select(
            ranked.c.batch_id,
            ranked.c.status,
            sa.func.count(),
            sa.func.sum(ranked.c.credits_reserved),
            sa.func.sum(ranked.c.credits_settled),
        )
        .where(ranked.c.newest == 1)
        .group_by(ranked.c.batch_id, ranked.c.status)
    ).all()
    found = {batch_id: _Tally(dict.fromkeys(COUNTS, 0)) for batch_id in batch_ids}
    for batch_id, status, count, reserved, settled in rows:
        tally = found[batch_id]
        tally.counts[_COUNT_OF[status]] += int(count)
        if not JobStatus(status).finished:
            tally.held += int(reserved or 0)
        tally.spent += int(settled or 0)
    return found


def _eta(services: Services, session: Session, batch: Batch, counts: dict[str, int]) -> float | None:
    left = counts["queued"] + counts["running"]
    if left == 0:
        return None
    waiting = session.scalars(
        sa.select(GenerationJob.model_endpoint).where(
            GenerationJob.batch_id == batch.id,
            GenerationJob.status == JobStatus.QUEUED.value,
            GenerationJob.dispatched_at.is_(None),
        )
    ).all()
    model = str(batch.request.get("model", ""))
    if not waiting:
        return eta.remaining(None, eta.latency(session, model)) / 2
    # Everything of theirs with a higher priority, or older, goes first.
    first = eta.waiting_jobs(session, batch.owner_id) - len(waiting)
    seconds = eta.eta_of_many(services, session, batch.owner_id, waiting, max(0, first))
    if batch.run_at is not None and batch.run_at > utcnow():
        seconds += (batch.run_at - utcnow()).total_seconds()
    return seconds


def _view(services: Services, session: Session, batch: Batch, tally: _Tally) -> BatchView:
    return BatchView(
        id=batch.id,
        name=batch.name,
        source=Source(batch.source),
        model_endpoint=str(batch.request.get("model", "")),
        rows=batch.rows,
        images=batch.images,
        credits_reserved=tally.held,
        credits_spent=tally.spent,
        counts=tally.counts,
        priority=Priority(batch.priority),
        paused=batch.paused_at is not None,
        cancelled=batch.cancelled_at is not None,
        run_at=batch.run_at,
        timezone=batch.timezone,
        fallback_endpoint=batch.fallback_endpoint,
        created_at=batch.created_at,
        eta_seconds=None if batch.paused_at is not None else _eta(services, session, batch, tally.counts),
    )


def list_batches(services: Services, account_id: uuid.UUID, limit: int = 20) -> list[BatchView]:
    """The account's newest batches, newest first."""
    with services.uow() as uow:
        batches = list(
            uow.session.scalars(
                sa.select(Batch)
                .where(Batch.owner_id == account_id)
                .order_by(Batch.created_at.desc(), Batch.id.desc())
                .limit(limit)
            )
        )
        found = _tallies(uow.session, [batch.id for batch in batches])
        return [_view(services, uow.session, batch, found[batch.id]) for batch in batches]


def owned_batch(session: Session, account_id: uuid.UUID, batch_id: uuid.UUID, *, lock: bool = False) -> Batch:
    """The account's batch (locked until the transaction ends, with `lock`); NotFound for anybody else's."""
    query = sa.select(Batch).where(Batch.id == batch_id, Batch.owner_id == account_id)
    batch = session.scalar(query.with_for_update() if lock else query)
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def get_batch(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> BatchView:
    """One of the account's batches; NotFound for anybody else's."""
    with services.uow() as uow:
        batch = owned_batch(uow.session, account_id, batch_id)
        return _view(services, uow.session, batch, _tallies(uow.session, [batch.id])[batch.id])


def batch_rows(
    services: Services, account_id: uuid.UUID, batch_id: uuid.UUID, *, offset: int = 0, limit: int = 50
) -> list[RowView]:
    """A page of the batch's rows, in row order, each with its newest job and its images."""
    with services.uow() as uow:
        owned_batch(uow.session, account_id, batch_id)
        ranked = _latest_jobs([batch_id])
        jobs = uow.session.execute(
            sa.select(ranked)
            .where(ranked.c.newest == 1)
            .order_by(ranked.c.batch_row)
            .offset(max(0, offset))
            .limit(max(1, min(limit, 500)))
        ).all()
        ids = [row.id for row in jobs]
        images: dict[uuid.UUID, list[Image]] = {job_id: [] for job_id in ids}
        if ids:
            for image in uow.session.scalars(
                sa.select(Image)
                .where(Image.job_id.in_(ids), Image.deleted_at.is_(None))
                .order_by(Image.created_at, Image.storage_key)
            ):
                if image.job_id is not None:
                    images[image.job_id].append(image)
        return [
            RowView(
                number=int(row.batch_row or 0),
                job_id=row.id,
                prompt=row.prompt,
                model_endpoint=row.model_endpoint,
                seed=row.params.get("seed") if isinstance(row.params.get("seed"), int) else None,
                status=JobStatus(row.status),
                credits_reserved=row.credits_reserved,
                credits_settled=row.credits_settled,
                error_message=row.error_message,
                fallback_of_id=row.fallback_of_id,
                images=[image_view(services, image) for image in images[row.id]],
            )
            for row in jobs
        ]


def batch_images(
    services: Services, account_id: uuid.UUID, batch_id: uuid.UUID, limit: int = 24
) -> list[ImageView]:
    """The batch's newest images, newest first (as they arrive)."""
    with services.uow() as uow:
        owned_batch(uow.session, account_id, batch_id)
        found = uow.session.scalars(
            sa.select(Image)
            .join(GenerationJob, GenerationJob.id == Image.job_id)
            .where(
                GenerationJob.batch_id == batch_id,
                Image.owner_id == account_id,
                Image.deleted_at.is_(None),
            )
            .order_by(Image.created_at.desc(), Image.id.desc())
            .limit(limit)
        ).all()
        return [image_view(services, image) for image in found]


def model_name(endpoint: str) -> str:
    spec = BY_ENDPOINT.get(endpoint)
    return spec.name if spec else endpoint
