"""A person's own data: "export my data" builds a ZIP of everything the studio keeps about them (the
images as they are stored, and a JSON document of every record), on a job, with a link valid 15 minutes."""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import (
    Collection,
    CollectionImage,
    CreditLedger,
    DataExport,
    GenerationJob,
    Image,
    ImageTag,
    Project,
    Prompt,
    User,
    UserSettings,
    utcnow,
)
from studio.adapters.storage import ObjectStorage
from studio.errors import InvalidInput, NotFound, QueueError, StudioError
from studio.services import dispatch
from studio.services.context import Services

log = logging.getLogger(__name__)

ExportStatus = Literal["pending", "ready", "failed"]
URL_LIFETIME = 900
#: A pending export older than this counts as failed: its job was lost or is stuck.
EXPORT_TIMEOUT = timedelta(hours=1)
JSON_NAME = "studio-export.json"

# What an export holds of each table: what the person made, chose or was charged; never a password hash,
# two-factor secret, recovery code, token, API key hash, object key or provider id.
ACCOUNT_FIELDS = (
    "id", "email", "username", "name", "role", "created_at", "email_verified_at", "credit_balance",
)  # fmt: skip
SETTINGS_FIELDS = ("theme", "default_model", "default_params", "email_notifications")
JOB_FIELDS = (
    "id", "status", "operation", "model_endpoint", "prompt", "request", "params", "num_images",
    "input_image_ids", "parent_image_id", "project_id", "batch_id", "credits_reserved", "credits_settled",
    "error_code", "error_message", "created_at", "submitted_at", "started_at", "finished_at",
)  # fmt: skip
IMAGE_FIELDS = (
    "id", "job_id", "project_id", "parent_image_id", "operation", "prompt", "negative_prompt",
    "model_endpoint", "params", "seed", "width", "height", "content_type", "byte_size", "is_favourite",
    "rating", "notes", "nsfw", "credits", "timings", "created_at", "deleted_at",
)  # fmt: skip
LEDGER_FIELDS = (
    "id", "kind", "delta", "balance_after", "reason", "ref_type", "ref_id", "job_id", "created_at",
)  # fmt: skip
PROJECT_FIELDS = ("id", "name", "description", "default_model", "default_params", "archived_at", "created_at")
COLLECTION_FIELDS = ("id", "name", "description", "is_public", "created_at")
PROMPT_FIELDS = ("id", "text", "negative_prompt", "title", "is_starred", "use_count", "last_used_at")


@dataclass(frozen=True)
class ExportView:
    """An export as pages show it; `url` (valid for 15 minutes) only once it is ready."""

    id: uuid.UUID
    status: ExportStatus
    created_at: datetime
    finished_at: datetime | None
    size_bytes: int | None
    error: str | None
    url: str | None


@dataclass(frozen=True)
class _File:
    image_id: uuid.UUID
    key: str
    name: str  # inside the ZIP


def _view(services: Services, export: DataExport) -> ExportView:
    status: ExportStatus = "ready" if export.status == "ready" else "failed"
    error = export.error
    if export.status == "pending":
        if export.created_at > utcnow() - EXPORT_TIMEOUT:
            status = "pending"
        else:
            error = "The export took too long; ask for a new one."
    url = None
    if status == "ready" and export.object_key:
        name = f"studio-export-{export.created_at:%Y%m%d}.zip"
        url = services.storage.url(export.object_key, expires_in=URL_LIFETIME, download_name=name)
    return ExportView(export.id, status, export.created_at, export.finished_at, export.size_bytes, error, url)


def _fail(export: DataExport, error: str) -> None:
    export.status = "failed"
    export.error = error[:300]
    export.finished_at = utcnow()


# --- export -----------------------------------------------------------------------------------------------


def request_export(services: Services, user_id: uuid.UUID) -> ExportView:
    """Start building a ZIP of the account's data; refused while another one is being prepared."""
    now = utcnow()
    with services.uow() as uow:
        user = uow.session.get(User, user_id, with_for_update=True)  # one request at a time per user
        if user is None or user.deleted_at is not None:
            raise NotFound("No such account.")
        pending = uow.session.scalars(
            sa.select(DataExport).where(DataExport.user_id == user_id, DataExport.status == "pending")
        ).all()
        for export in pending:
            if export.created_at > now - EXPORT_TIMEOUT:
                raise InvalidInput(
                    "An export is already being prepared; you can download it here as soon as it is ready."
                )
            _fail(export, "The export took too long; ask for a new one.")
        export = DataExport(user_id=user_id)
        uow.session.add(export)
        uow.session.flush()
        export_id = export.id
        uow.commit()
    try:
        dispatch.enqueue(
            services,
            dispatch.BUILD_EXPORT,
            str(export_id),
            priority=dispatch.BACKGROUND,
            job_id=f"export-{export_id}",
        )
    except QueueError:
        log.exception("could not queue export %s", export_id)
        with services.uow() as uow:
            row = uow.session.get(DataExport, export_id)
            if row is not None:
                _fail(row, "The export could not be queued.")
                uow.commit()
        raise QueueError(
            "The studio could not start your export right now; please try again later."
        ) from None
    with services.uow() as uow:
        row = uow.session.get(DataExport, export_id)
        if row is None:
            raise NotFound("No such export.")
        return _view(services, row)


def latest_export(services: Services, user_id: uuid.UUID) -> ExportView | None:
    """The account's most recent export, if it ever asked for one."""
    with services.uow() as uow:
        export = uow.session.scalar(
            sa.select(DataExport)
            .where(DataExport.user_id == user_id)
            .order_by(DataExport.created_at.desc(), DataExport.id.desc())
            .limit(1)
        )
        return _view(services, export) if export is not None else None


def build_export(services: Services, export_id: uuid.UUID) -> None:
    """The job: write the ZIP, store it, mark the export ready. A failure is recorded on the export and
    logged, never raised, so the job is not retried forever; an export that is already ready is left alone."""
    try:
        _build(services, export_id)
    except Exception as err:
        log.exception("export %s failed", export_id)
        detail = str(err) if isinstance(err, StudioError) else "unexpected error"
        try:
            with services.uow() as uow:
                export = uow.session.get(DataExport, export_id, with_for_update=True)
                if export is not None and export.status != "ready":
                    _fail(export, f"The export could not be built ({detail}). Ask for a new one.")
                    uow.commit()
        except Exception:
            log.exception("could not record that export %s failed", export_id)


def _build(services: Services, export_id: uuid.UUID) -> None:
    with services.uow() as uow:
        export = uow.session.get(DataExport, export_id)
        if export is None or export.status == "ready":
            return
        user = uow.session.get(User, export.user_id)
        if user is None or user.deleted_at is not None:
            _fail(export, "The account was deleted.")
            uow.commit()
            return
        user_id = user.id
        document, files = _collect(uow.session, user)
    key = f"exports/{user_id}/{export_id}.zip"
    # On disk, not in memory: a library can hold gigabytes of images.
    with tempfile.TemporaryFile(prefix="studio-export-") as archive:
        _write_zip(services.storage, archive, document, files)
        size = archive.seek(0, os.SEEK_END)
        archive.seek(0)
        services.storage.put(key, archive, "application/zip")
    with services.uow() as uow:
        export = uow.session.get(DataExport, export_id, with_for_update=True)
        if export is not None and export.status != "ready":
            export.status, export.object_key, export.size_bytes = "ready", key, size
            export.error, export.finished_at = None, utcnow()
            uow.commit()
    if export is None:  # the account was purged while the ZIP was being written
        services.storage.delete(key)
    log.info("export %s ready: %d bytes", export_id, size)


def _pick(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def _owned(session: Session, model: Any, owner: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(model).where(owner).order_by(model.created_at, model.id))
    return [_pick(row, fields) for row in rows]


def _extension(image: Image) -> str:
    tail = image.storage_key.rsplit("/", 1)[-1]
    if "." in tail:
        return tail.rsplit(".", 1)[-1].lower()
    return (mimetypes.guess_extension(image.content_type) or ".bin").lstrip(".")


def _collect(session: Session, user: User) -> tuple[dict[str, Any], list[_File]]:
    """Every record of the user as JSON-ready values, and the image files to copy."""
    owner = user.id
    tags: dict[uuid.UUID, list[str]] = {}
    query = (
        sa.select(ImageTag.image_id, ImageTag.tag).where(ImageTag.owner_id == owner).order_by(ImageTag.tag)
    )
    for image_id, tag in session.execute(query):
        tags.setdefault(image_id, []).append(tag)
    images, files = [], []
    for image in session.scalars(
        sa.select(Image).where(Image.owner_id == owner).order_by(Image.created_at, Image.id)
    ):
        name = f"images/{image.id}.{_extension(image)}"
        files.append(_File(image.id, image.storage_key, name))
        images.append(_pick(image, IMAGE_FIELDS) | {"file": name, "tags": tags.get(image.id, [])})
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for collection_id, image_id in session.execute(
        sa.select(CollectionImage.collection_id, CollectionImage.image_id)
        .join(Collection, Collection.id == CollectionImage.collection_id)
        .where(Collection.owner_id == owner)
        .order_by(CollectionImage.position)
    ):
        members.setdefault(collection_id, []).append(image_id)
    collections = _owned(session, Collection, Collection.owner_id == owner, COLLECTION_FIELDS)
    settings = session.get(UserSettings, owner)
    document = {
        "format": "studio-export/1",
        "exported_at": utcnow(),
        "account": _pick(user, ACCOUNT_FIELDS) | {"email_verified": user.email_verified_at is not None},
        "settings": _pick(settings, SETTINGS_FIELDS) if settings is not None else None,
        "generation_jobs": _owned(session, GenerationJob, GenerationJob.owner_id == owner, JOB_FIELDS),
        "images": images,
        "credit_ledger": _owned(session, CreditLedger, CreditLedger.user_id == owner, LEDGER_FIELDS),
        "projects": _owned(session, Project, Project.owner_id == owner, PROJECT_FIELDS),
        "collections": [row | {"image_ids": members.get(row["id"], [])} for row in collections],
        "prompts": _owned(session, Prompt, Prompt.owner_id == owner, PROMPT_FIELDS),
    }
    return document, files


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _entry(name: str, compression: int) -> zipfile.ZipInfo:
    now = utcnow()
    info = zipfile.ZipInfo(name, (now.year, now.month, now.day, now.hour, now.minute, now.second))
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _write_zip(
    storage: ObjectStorage, archive: IO[bytes], document: dict[str, Any], files: list[_File]
) -> None:
    """Images stored as they are (they are compressed already), chunk by chunk; then the JSON, which lists
    the files that were missing from the store."""
    missing = []
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in files:
            chunks = storage.stream(file.key)
            try:
                first = next(chunks, b"")
            except NotFound:
                missing.append({"image_id": file.image_id, "file": file.name})
                continue
            with zipped.open(_entry(file.name, zipfile.ZIP_STORED), "w") as entry:
                entry.write(first)
                for chunk in chunks:
                    entry.write(chunk)
        document["missing_files"] = missing
        text = json.dumps(document, default=_json_value, ensure_ascii=False, indent=2)
        zipped.writestr(_entry(JSON_NAME, zipfile.ZIP_DEFLATED), text.encode())
