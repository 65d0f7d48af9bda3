"""Taking images out: a ZIP of selected originals, and their metadata as CSV or JSON.

A ZIP is written to a temporary file one chunk at a time (never a whole image, let alone all of them, in
memory), stored, and offered as a short-lived link. Up to ZIP_INLINE_LIMIT images it is built while the
person waits; above that a job builds it and the page offers the link when it is ready.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

import sqlalchemy as sa

from studio.adapters.db.models import Image, ImageTag
from studio.adapters.storage import ObjectStorage
from studio.domain.library import ZIP_INLINE_LIMIT, ZIP_MAX_IMAGES
from studio.errors import InvalidInput, NotFound, QueueError, StudioError
from studio.services import dispatch
from studio.services.context import Services
from studio.services.library.curation import owned_ids
from studio.services.library.gallery import download_name

log = logging.getLogger(__name__)
LINK_LIFETIME = 900
METADATA_FIELDS = (
    "id", "created_at", "prompt", "negative_prompt", "model_endpoint", "operation", "seed", "width",
    "height", "content_type", "byte_size", "credits", "is_favourite", "rating", "notes", "project_id",
    "parent_image_id", "tags", "params",
)  # fmt: skip


@dataclass(frozen=True)
class Download:
    id: uuid.UUID
    count: int
    url: str | None  # None while a job is still building it
    failed: bool = False


def _zip_key(owner_id: uuid.UUID, download_id: uuid.UUID) -> str:
    return f"users/{owner_id}/downloads/{download_id.hex}.zip"


def _failed_key(owner_id: uuid.UUID, download_id: uuid.UUID) -> str:
    return f"users/{owner_id}/downloads/{download_id.hex}.failed"


def write_zip(
    storage: ObjectStorage,
    out: IO[bytes],
    files: Iterable[tuple[str, str]],
    extras: Iterable[tuple[str, bytes]] = (),
) -> int:
    """Copy each (name in the archive, storage key) into a ZIP on `out` chunk by chunk, then the small
    `extras` (name, bytes: a manifest, a report), deflated; the image count. Images are stored, not
    deflated: PNG, JPEG and WebP are compressed already."""
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in extras:
            archive.writestr(
                zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6]), data, zipfile.ZIP_DEFLATED
            )
        for name, key in files:
            with archive.open(
                zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6]), "w", force_zip64=True
            ) as entry:
                for chunk in storage.stream(key):
                    entry.write(chunk)
            count += 1
    return count


def zip_files(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> list[tuple[str, str]]:
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(Image)
            .where(Image.owner_id == owner_id, Image.id.in_(ids))
            .order_by(Image.created_at, Image.id)
        ).all()
        return [(download_name(row), row.storage_key) for row in rows]


def store_zip(
    services: Services,
    owner_id: uuid.UUID,
    download_id: uuid.UUID,
    files: list[tuple[str, str]],
    extras: Iterable[tuple[str, bytes]] = (),
) -> None:
    """Write the ZIP of a download to a temporary file and store it where `zip_status` finds it."""
    with tempfile.TemporaryFile(prefix="studio-zip-") as archive:
        write_zip(services.storage, archive, files, extras)
        archive.seek(0)
        services.storage.put(_zip_key(owner_id, download_id), archive, "application/zip")


def link(services: Services, owner_id: uuid.UUID, download_id: uuid.UUID) -> str:
    return services.storage.url(
        _zip_key(owner_id, download_id),
        LINK_LIFETIME,
        download_name=f"studio-images-{download_id.hex[:8]}.zip",
    )


def prepare_zip(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> Download:
    """A ZIP of the owner's selected images: ready now for a few, else built by a job (see `zip_status`)."""
    if len(ids) > ZIP_MAX_IMAGES:
        raise InvalidInput(f"A download holds at most {ZIP_MAX_IMAGES} images.")
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids)
    download_id = uuid.uuid4()
    if len(chosen) <= ZIP_INLINE_LIMIT:
        store_zip(services, owner_id, download_id, zip_files(services, owner_id, chosen))
        return Download(download_id, len(chosen), link(services, owner_id, download_id))
    try:
        dispatch.enqueue(
            services, dispatch.BUILD_ZIP, str(owner_id), str(download_id), [str(i) for i in chosen],
            priority=dispatch.BACKGROUND, job_id=f"zip-{download_id.hex}",
        )  # fmt: skip
    except QueueError:
        log.exception("could not queue download %s", download_id)
        raise QueueError(
            "The studio could not start your download right now; please try again later."
        ) from None
    return Download(download_id, len(chosen), None)


def build_zip(services: Services, owner_id: uuid.UUID, download_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    """The job: write and store the ZIP; a failure leaves a marker the page reports, never a retry loop."""
    try:
        store_zip(services, owner_id, download_id, zip_files(services, owner_id, ids))
    except (StudioError, OSError):
        mark_failed(services, owner_id, download_id)


def mark_failed(services: Services, owner_id: uuid.UUID, download_id: uuid.UUID) -> None:
    """A ZIP job gave up: the marker `zip_status` reports."""
    log.exception("download %s failed", download_id)
    services.storage.put(_failed_key(owner_id, download_id), b"failed", "text/plain")


def zip_status(services: Services, owner_id: uuid.UUID, download_id: uuid.UUID, count: int) -> Download:
    """A download built by a job: its link once stored, `failed` if the job gave up."""
    if services.storage.exists(_zip_key(owner_id, download_id)):
        return Download(download_id, count, link(services, owner_id, download_id))
    failed = services.storage.exists(_failed_key(owner_id, download_id))
    return Download(download_id, count, None, failed=failed)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def metadata_rows(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids)
        tags: dict[uuid.UUID, list[str]] = {}
        for image_id, tag in uow.session.execute(
            sa.select(ImageTag.image_id, ImageTag.tag)
            .where(ImageTag.image_id.in_(chosen))
            .order_by(ImageTag.tag)
        ):
            tags.setdefault(image_id, []).append(tag)
        rows = uow.session.scalars(
            sa.select(Image).where(Image.id.in_(chosen)).order_by(Image.created_at, Image.id)
        ).all()
        if len(rows) != len(chosen):
            raise NotFound("Some of those images are not in your library.")
        return [
            {name: _plain(getattr(row, name)) for name in METADATA_FIELDS if name not in ("tags", "params")}
            | {"tags": tags.get(row.id, []), "params": dict(row.params)}
            for row in rows
        ]


def export_metadata(
    services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID], fmt: Literal["csv", "json"]
) -> bytes:
    """The selected images' metadata: JSON as it is, or CSV with tags joined and parameters as JSON."""
    rows = metadata_rows(services, owner_id, ids)
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(METADATA_FIELDS))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            row | {"tags": ", ".join(row["tags"]), "params": json.dumps(row["params"], sort_keys=True)}
        )
    return out.getvalue().encode()
