"""The trash: images leave the gallery first, come back on restore, and are erased (rows and stored files) on
purge, by hand or automatically TRASH_RETENTION_DAYS after they were thrown away."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Image, utcnow
from studio.errors import StorageError
from studio.services.context import Services
from studio.services.library.curation import owned_ids

log = logging.getLogger(__name__)
PURGE_BATCH = 500
TRASH_PAGE = 200


@dataclass(frozen=True)
class TrashedImage:
    id: uuid.UUID
    thumb_url: str
    prompt: str
    deleted_at: datetime
    purge_at: datetime


def move_to_trash(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> int:
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids)
        uow.session.execute(sa.update(Image).where(Image.id.in_(chosen)).values(deleted_at=utcnow()))
        uow.commit()
        return len(chosen)


def restore(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> int:
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids, in_trash=True)
        uow.session.execute(sa.update(Image).where(Image.id.in_(chosen)).values(deleted_at=None))
        uow.commit()
        return len(chosen)


def trashed(services: Services, owner_id: uuid.UUID, limit: int = TRASH_PAGE) -> list[TrashedImage]:
    """The owner's trash, most recently thrown away first, with when each will be purged."""
    keep = timedelta(days=services.settings.trash_retention_days)
    urls = services.files
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(Image)
            .where(Image.owner_id == owner_id, Image.deleted_at.is_not(None))
            .order_by(Image.deleted_at.desc(), Image.id.desc())
            .limit(limit)
        ).all()
        return [
            TrashedImage(
                row.id,
                urls.url(row.thumb_key or row.storage_key),
                row.prompt,
                row.deleted_at,
                row.deleted_at + keep,
            )
            for row in rows
            if row.deleted_at is not None
        ]


def purge(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID]) -> int:
    """Erase images in the owner's trash for good: their rows, then their stored files."""
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids, in_trash=True)
        keys = _delete_rows(uow.session, chosen)
        uow.commit()
    _delete_objects(services, keys)
    return len(chosen)


def empty_trash(services: Services, owner_id: uuid.UUID) -> int:
    with services.uow() as uow:
        ids = list(
            uow.session.scalars(
                sa.select(Image.id).where(Image.owner_id == owner_id, Image.deleted_at.is_not(None))
            )
        )
    erased = 0
    for start in range(0, len(ids), PURGE_BATCH):
        erased += purge(services, owner_id, ids[start : start + PURGE_BATCH])
    return erased


def purge_expired(services: Services) -> int:
    """The scheduled job: erase every image that has been in a trash longer than TRASH_RETENTION_DAYS."""
    cutoff = utcnow() - timedelta(days=services.settings.trash_retention_days)
    erased = 0
    while True:
        with services.uow() as uow:
            ids = list(
                uow.session.scalars(
                    sa.select(Image.id)
                    .where(Image.deleted_at.is_not(None), Image.deleted_at < cutoff)
                    .limit(PURGE_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return erased
            keys = _delete_rows(uow.session, ids)
            uow.commit()
        _delete_objects(services, keys)
        erased += len(ids)


def _delete_rows(session: Session, ids: list[uuid.UUID]) -> list[str]:
    rows = session.execute(
        sa.select(Image.storage_key, Image.thumb_key, Image.mask_key).where(Image.id.in_(ids))
    ).all()
    session.execute(sa.delete(Image).where(Image.id.in_(ids)))
    return [key for row in rows for key in row if key]


def _delete_objects(services: Services, keys: list[str]) -> None:
    """After the rows are gone: a file left behind by a storage error is orphaned, never shown again."""
    for key in keys:
        try:
            services.storage.delete(key)
        except StorageError:
            log.exception("could not delete %s from storage", key)
    services.files.forget(keys)
