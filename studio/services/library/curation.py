"""Curating one's own images: favourite, rate, tag, annotate, comment, move to a project, add to a collection.

Bulk actions take a list of ids and change all of them or none: one id that is not the caller's (or does
not exist) is NotFound and nothing changes.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Collection, CollectionImage, Comment, Image, ImageTag, Project
from studio.domain.library import TAGS_PER_IMAGE, normalise_tag
from studio.errors import InvalidInput, NotFound
from studio.services.context import Services
from studio.services.library.gallery import owned_image

NOTES_MAX = 5_000
COMMENT_MAX = 2_000
BULK_MAX = 5_000


def owned_ids(
    session: Session, owner_id: uuid.UUID, ids: list[uuid.UUID], *, in_trash: bool = False
) -> list[uuid.UUID]:
    """`ids` de-duplicated, if every one is the owner's (outside the trash, or in it); else NotFound."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InvalidInput("Select at least one image.")
    if len(unique) > BULK_MAX:
        raise InvalidInput(f"Select at most {BULK_MAX} images at a time.")
    trash = Image.deleted_at.is_not(None) if in_trash else Image.deleted_at.is_(None)
    found = set(
        session.scalars(sa.select(Image.id).where(Image.owner_id == owner_id, Image.id.in_(unique), trash))
    )
    if len(found) != len(unique):
        raise NotFound("Some of those images are not in your library.")
    return unique


def owned_project(session: Session, owner_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    project = session.scalar(sa.select(Project).where(Project.id == project_id, Project.owner_id == owner_id))
    if project is None:
        raise NotFound("No such project.")
    return project


def owned_collection(session: Session, owner_id: uuid.UUID, collection_id: uuid.UUID) -> Collection:
    collection = session.scalar(
        sa.select(Collection).where(Collection.id == collection_id, Collection.owner_id == owner_id)
    )
    if collection is None:
        raise NotFound("No such collection.")
    return collection


def set_favourite(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID], favourite: bool) -> int:
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids)
        uow.session.execute(sa.update(Image).where(Image.id.in_(chosen)).values(is_favourite=favourite))
        uow.commit()
        return len(chosen)


def set_rating(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID, rating: int | None) -> None:
    if rating is not None and not 1 <= rating <= 5:
        raise InvalidInput("A rating is 1 to 5 stars.")
    with services.uow() as uow:
        owned_image(uow.session, owner_id, image_id, lock=True).rating = rating
        uow.commit()


def set_notes(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID, notes: str) -> None:
    if len(notes) > NOTES_MAX:
        raise InvalidInput(f"Notes are up to {NOTES_MAX} characters.")
    with services.uow() as uow:
        owned_image(uow.session, owner_id, image_id, lock=True).notes = notes.strip() or None
        uow.commit()


def set_tags(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID, tags: list[str]) -> list[str]:
    """Replace the image's tags."""
    wanted = list(dict.fromkeys(normalise_tag(tag) for tag in tags))
    if len(wanted) > TAGS_PER_IMAGE:
        raise InvalidInput(f"An image has at most {TAGS_PER_IMAGE} tags.")
    with services.uow() as uow:
        image = owned_image(uow.session, owner_id, image_id, lock=True)
        uow.session.execute(sa.delete(ImageTag).where(ImageTag.image_id == image.id))
        uow.session.add_all(ImageTag(image_id=image.id, tag=tag, owner_id=owner_id) for tag in wanted)
        uow.commit()
    return wanted


def add_tags(services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID], tags: list[str]) -> int:
    """Add tags to several images (those they already have are kept once)."""
    wanted = list(dict.fromkeys(normalise_tag(tag) for tag in tags))
    if not wanted:
        raise InvalidInput("Name at least one tag.")
    with services.uow() as uow:
        chosen = owned_ids(uow.session, owner_id, ids)
        existing = set(
            uow.session.execute(
                sa.select(ImageTag.image_id, ImageTag.tag).where(
                    ImageTag.image_id.in_(chosen), ImageTag.tag.in_(wanted)
                )
            ).tuples()
        )
        uow.session.add_all(
            ImageTag(image_id=image_id, tag=tag, owner_id=owner_id)
            for image_id in chosen
            for tag in wanted
            if (image_id, tag) not in existing
        )
        uow.commit()
        return len(chosen)


def move_to_project(
    services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID], project_id: uuid.UUID | None
) -> int:
    """Put images in one of the owner's projects, or take them out of any (None)."""
    with services.uow() as uow:
        if project_id is not None:
            owned_project(uow.session, owner_id, project_id)
        chosen = owned_ids(uow.session, owner_id, ids)
        uow.session.execute(sa.update(Image).where(Image.id.in_(chosen)).values(project_id=project_id))
        uow.commit()
        return len(chosen)


def add_to_collection(
    services: Services, owner_id: uuid.UUID, ids: list[uuid.UUID], collection_id: uuid.UUID
) -> int:
    """Append images to one of the owner's collections (those already in it keep their place)."""
    with services.uow() as uow:
        collection = owned_collection(uow.session, owner_id, collection_id)
        chosen = owned_ids(uow.session, owner_id, ids)
        present = set(
            uow.session.scalars(
                sa.select(CollectionImage.image_id).where(CollectionImage.collection_id == collection.id)
            )
        )
        last = uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(CollectionImage.position), -1)).where(
                CollectionImage.collection_id == collection.id
            )
        )
        position = int(last if last is not None else -1)
        for image_id in chosen:
            if image_id not in present:
                position += 1
                uow.session.add(
                    CollectionImage(collection_id=collection.id, image_id=image_id, position=position)
                )
        uow.commit()
        return len(chosen)


def add_comment(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID, body: str) -> None:
    text = body.strip()
    if not text:
        raise InvalidInput("Write something first.")
    if len(text) > COMMENT_MAX:
        raise InvalidInput(f"A comment is up to {COMMENT_MAX} characters.")
    with services.uow() as uow:
        image = owned_image(uow.session, owner_id, image_id)
        uow.session.add(Comment(image_id=image.id, author_id=owner_id, body=text))
        uow.commit()
