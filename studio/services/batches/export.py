"""A batch taken out: a ZIP of its images with a manifest (CSV and JSON: row, prompt, seed, model, image
file...) and the batch's report (counts, credits, timings). Built while the person waits for a small
batch, by a job for a big one, like the gallery's downloads (`studio.services.library.downloads`)."""

from __future__ import annotations

import csv
import io
import json
import statistics
import uuid
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import Batch, GenerationJob, Image
from studio.domain.library import ZIP_INLINE_LIMIT
from studio.errors import NotFound, QueueError, StudioError
from studio.services import dispatch
from studio.services.batches.views import COUNTS, get_batch, model_name
from studio.services.context import Services
from studio.services.library import downloads
from studio.services.library.downloads import Download

MANIFEST_FIELDS = (
    "row", "status", "prompt", "negative_prompt", "seed", "model", "model_endpoint", "image_file", "width",
    "height", "credits", "job_id", "fallback_of", "error",
)  # fmt: skip


def _rows(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> tuple[Batch, list[Any]]:
    """The batch, and each of its jobs (every run of every row) with its images, in row order."""
    with services.uow() as uow:
        batch = uow.session.scalar(sa.select(Batch).where(Batch.id == batch_id, Batch.owner_id == account_id))
        if batch is None:
            raise NotFound("No such batch.")
        rows = uow.session.execute(
            sa.select(GenerationJob, Image)
            .outerjoin(Image, (Image.job_id == GenerationJob.id) & Image.deleted_at.is_(None))
            .where(GenerationJob.batch_id == batch_id, GenerationJob.owner_id == account_id)
            .order_by(GenerationJob.batch_row, GenerationJob.created_at, Image.storage_key)
        ).all()
        # Detached all at once: a job with several images is on one row per image (the same object).
        uow.session.expunge_all()
    return batch, list(rows)


def _file_name(row: int, image: Image, index: int) -> str:
    extension = image.storage_key.rsplit(".", 1)[-1]
    return f"images/row-{row:04d}-{index + 1}-{image.id.hex[:8]}.{extension}"


def contents(
    services: Services, account_id: uuid.UUID, batch_id: uuid.UUID
) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]]]:
    """The archive's images (name, storage key) and its small files: manifest.csv, manifest.json and
    report.json."""
    batch, rows = _rows(services, account_id, batch_id)
    files: list[tuple[str, str]] = []
    manifest: list[dict[str, Any]] = []
    seen: dict[uuid.UUID, int] = {}
    for job, image in rows:
        entry = {
            "row": job.batch_row,
            "status": job.status,
            "prompt": job.prompt,
            "negative_prompt": (job.request or {}).get("negative_prompt") or "",
            "seed": job.params.get("seed"),
            "model": model_name(job.model_endpoint),
            "model_endpoint": job.model_endpoint,
            "image_file": "",
            "width": None,
            "height": None,
            "credits": job.credits_settled or 0,
            "job_id": str(job.id),
            "fallback_of": str(job.fallback_of_id) if job.fallback_of_id else "",
            "error": job.error_message or "",
        }
        if image is not None:
            index = seen.get(job.id, 0)
            seen[job.id] = index + 1
            name = _file_name(job.batch_row or 0, image, index)
            files.append((name, image.storage_key))
            entry |= {
                "image_file": name,
                "width": image.width,
                "height": image.height,
                "seed": image.seed,
                "credits": image.credits,
            }
        manifest.append(entry)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=MANIFEST_FIELDS)
    writer.writeheader()
    writer.writerows(manifest)
    extras = [
        ("manifest.csv", text.getvalue().encode()),
        ("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode()),
        ("report.json", json.dumps(report(services, account_id, batch, rows), indent=2).encode()),
    ]
    return files, extras


def report(services: Services, account_id: uuid.UUID, batch: Batch, rows: list[Any]) -> dict[str, Any]:
    """What the batch did: its counts by row, credits reserved, spent and returned, and its timings."""
    view = get_batch(services, account_id, batch.id)
    jobs = {job.id: job for job, _ in rows}.values()
    started = [job.started_at for job in jobs if job.started_at]
    finished = [job.finished_at for job in jobs if job.finished_at]
    runs = [
        (job.finished_at - job.started_at).total_seconds()
        for job in jobs
        if job.started_at and job.finished_at and job.status == "succeeded"
    ]
    spent = sum(job.credits_settled or 0 for job in jobs)
    reserved = sum(job.credits_reserved for job in jobs)
    held = sum(job.credits_reserved for job in jobs if job.finished_at is None)
    return {
        "batch": str(batch.id),
        "name": batch.name,
        "source": batch.source,
        "created_at": batch.created_at.isoformat(),
        "rows": batch.rows,
        "counts": {name: view.counts[name] for name in COUNTS},
        "jobs_run": len(jobs),
        "images": sum(1 for _, image in rows if image is not None),
        "credits": {"reserved": reserved, "spent": spent, "returned": reserved - spent - held, "held": held},
        "first_started_at": min(started).isoformat() if started else None,
        "last_finished_at": max(finished).isoformat() if finished else None,
        "median_run_seconds": round(statistics.median(runs), 2) if runs else None,
        "fallback_model": batch.fallback_endpoint,
    }


def prepare(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID) -> Download:
    """The batch's ZIP: ready now for a small batch, else built by a job (`downloads.zip_status`)."""
    files, extras = contents(services, account_id, batch_id)
    download_id = uuid.uuid4()
    if len(files) <= ZIP_INLINE_LIMIT:
        downloads.store_zip(services, account_id, download_id, files, extras)
        return Download(download_id, len(files), downloads.link(services, account_id, download_id))
    try:
        dispatch.enqueue(
            services, dispatch.BUILD_BATCH_ZIP, str(account_id), str(batch_id), str(download_id),
            priority=dispatch.BACKGROUND, job_id=f"batch-zip-{download_id.hex}",
        )  # fmt: skip
    except QueueError:
        raise QueueError(
            "The studio could not start your download right now; please try again later."
        ) from None
    return Download(download_id, len(files), None)


def build(services: Services, account_id: uuid.UUID, batch_id: uuid.UUID, download_id: uuid.UUID) -> None:
    """The job of a big batch's ZIP; a failure leaves the marker the page reports."""
    try:
        files, extras = contents(services, account_id, batch_id)
        downloads.store_zip(services, account_id, download_id, files, extras)
    except (StudioError, OSError):
        downloads.mark_failed(services, account_id, download_id)
