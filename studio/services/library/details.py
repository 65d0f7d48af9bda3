"""One image in full, as its owner sees it: metadata, tags, comments, lineage, similar images, and the
request "Recall" puts back into the Generate form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from studio.adapters.db.models import (
    Collection,
    CollectionImage,
    Comment,
    GenerationJob,
    Image,
    ImageTag,
    Project,
    User,
)
from studio.domain.library import SIMILAR_DISTANCE, SIMILAR_SCAN_LIMIT, hamming
from studio.domain.parameters import Request
from studio.services.context import Services
from studio.services.library import lineage
from studio.services.library.gallery import download_name, owned_image
from studio.services.urls import PRIVATE


@dataclass(frozen=True)
class Related:
    id: uuid.UUID
    thumb_url: str
    prompt: str
    label: str = ""  # the operation that made it
    changes: tuple[str, ...] = ()  # between it and the image shown (made from / made from this)


@dataclass(frozen=True)
class CommentView:
    id: uuid.UUID
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ImageDetail:
    """An image with everything the studio knows about it, as its owner sees it."""

    id: uuid.UUID
    url: str
    download_url: str
    thumb_url: str
    prompt: str
    negative_prompt: str | None
    model_endpoint: str
    operation: str
    params: dict[str, Any]
    seed: int | None
    width: int
    height: int
    content_type: str
    byte_size: int
    timings: dict[str, Any]
    credits: int
    created_at: datetime
    deleted_at: datetime | None
    is_favourite: bool
    rating: int | None
    notes: str
    tags: list[str]
    project_id: uuid.UUID | None
    project_name: str | None
    collections: list[tuple[uuid.UUID, str]]
    comments: list[CommentView]
    parent: Related | None
    children: list[Related]
    request: Request  # what "Recall" puts back into the Generate form
    mask_url: str | None = None  # a background removal's mask, or the mask an inpainting sent
    fallback_for: str | None = None  # the model whose failed job this image's job reran (a fallback)


def _related(
    services: Services, image: Image, older: Image | None = None, newer: Image | None = None
) -> Related:
    """An image next to the one shown, with what changed between `older` and `newer` (one is `image`)."""
    url = services.files.url(image.thumb_key or image.storage_key)
    found = lineage.diff(older, newer) if older is not None and newer is not None else []
    return Related(image.id, url, image.prompt, lineage.step_label(image), tuple(map(str, found)))


def _mask_url(services: Services, session: Session, image: Image) -> str | None:
    key = image.mask_key
    if key is None and image.job_id is not None and image.operation == "inpaint":
        key = session.scalar(sa.select(GenerationJob.mask_key).where(GenerationJob.id == image.job_id))
    return services.files.url(key) if key else None


def recall_request(session: Session, image: Image) -> Request:
    """The exact request of the job that made the image; rebuilt from the image when that job is gone."""
    job_request = None
    if image.job_id is not None:
        job_request = session.scalar(
            sa.select(GenerationJob.request).where(
                GenerationJob.id == image.job_id, GenerationJob.owner_id == image.owner_id
            )
        )
    if job_request:
        return Request.from_json(job_request)
    params = {k: v for k, v in image.params.items() if k not in ("prompt", "negative_prompt")}
    return Request(image.model_endpoint, image.prompt, image.negative_prompt or "", "None", params)


def image_detail(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID) -> ImageDetail:
    """Everything about one of the owner's images; NotFound for anybody else's."""
    urls = services.files
    with services.uow() as uow:
        session = uow.session
        image = owned_image(session, owner_id, image_id)
        tags = list(
            session.scalars(
                sa.select(ImageTag.tag).where(ImageTag.image_id == image.id).order_by(ImageTag.tag)
            )
        )
        project = session.get(Project, image.project_id) if image.project_id else None
        collections = session.execute(
            sa.select(Collection.id, Collection.name)
            .join(CollectionImage, CollectionImage.collection_id == Collection.id)
            .where(CollectionImage.image_id == image.id, Collection.owner_id == owner_id)
            .order_by(Collection.name)
        ).all()
        comments = session.execute(
            sa.select(Comment.id, User.name, Comment.body, Comment.created_at)
            .join(User, User.id == Comment.author_id)
            .where(Comment.image_id == image.id, Comment.deleted_at.is_(None))
            .order_by(Comment.created_at, Comment.id)
        ).all()
        parent = None
        if image.parent_image_id:
            found = session.scalar(
                sa.select(Image).where(
                    Image.id == image.parent_image_id, Image.owner_id == owner_id, Image.deleted_at.is_(None)
                )
            )
            parent = _related(services, found, found, image) if found else None
        children = session.scalars(
            sa.select(Image)
            .where(Image.parent_image_id == image.id, Image.owner_id == owner_id, Image.deleted_at.is_(None))
            .order_by(Image.created_at)
            .limit(24)
        ).all()
        return ImageDetail(
            id=image.id,
            url=urls.url(image.storage_key),
            download_url=urls.url(image.storage_key, PRIVATE, download_name(image)),
            thumb_url=urls.url(image.thumb_key or image.storage_key),
            prompt=image.prompt,
            negative_prompt=image.negative_prompt,
            model_endpoint=image.model_endpoint,
            operation=image.operation,
            params=dict(image.params),
            seed=image.seed,
            width=image.width,
            height=image.height,
            content_type=image.content_type,
            byte_size=image.byte_size,
            timings=dict(image.timings),
            credits=image.credits,
            created_at=image.created_at,
            deleted_at=image.deleted_at,
            is_favourite=image.is_favourite,
            rating=image.rating,
            notes=image.notes or "",
            tags=tags,
            project_id=image.project_id,
            project_name=project.name if project and project.owner_id == owner_id else None,
            collections=[(row.id, row.name) for row in collections],
            comments=[CommentView(row.id, row.name, row.body, row.created_at) for row in comments],
            parent=parent,
            children=[_related(services, child, image, child) for child in children],
            request=recall_request(session, image),
            mask_url=_mask_url(services, session, image),
            fallback_for=_fallback_for(session, image),
        )


def _fallback_for(session: Session, image: Image) -> str | None:
    """The endpoint of the failed job this image's job ran in place of, if it was a fallback."""
    failed = aliased(GenerationJob)
    found: str | None = session.scalar(
        sa.select(failed.model_endpoint)
        .join(GenerationJob, GenerationJob.fallback_of_id == failed.id)
        .where(GenerationJob.id == image.job_id, failed.owner_id == image.owner_id)
    )
    return found


def similar_images(
    services: Services, owner_id: uuid.UUID, image_id: uuid.UUID, limit: int = 12
) -> list[tuple[Related, int]]:
    """The owner's images whose perceptual hash is within SIMILAR_DISTANCE bits, closest first, with the
    distance; compared against the owner's SIMILAR_SCAN_LIMIT most recent hashes, so it stays bounded."""
    with services.uow() as uow:
        image = owned_image(uow.session, owner_id, image_id)
        if image.phash is None:
            return []
        rows = uow.session.execute(
            sa.select(Image.id, Image.phash)
            .where(
                Image.owner_id == owner_id,
                Image.deleted_at.is_(None),
                Image.phash.is_not(None),
                Image.id != image.id,
            )
            .order_by(Image.created_at.desc(), Image.id.desc())
            .limit(SIMILAR_SCAN_LIMIT)
        ).all()
        close = sorted(
            (
                (distance, row.id)
                for row in rows
                if (distance := hamming(image.phash, row.phash)) <= SIMILAR_DISTANCE
            ),
            key=lambda pair: pair[0],
        )[:limit]
        found = {
            row.id: row
            for row in uow.session.scalars(sa.select(Image).where(Image.id.in_([i for _, i in close])))
        }
        return [(_related(services, found[i]), distance) for distance, i in close if i in found]
