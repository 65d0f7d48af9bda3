"""Projects (a working folder with default model settings for Generate) and collections (an ordered,
hand-picked set of images), each the owner's own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import Collection, CollectionImage, Image, Project, utcnow
from studio.domain.parameters import Request, provider_arguments
from studio.errors import InvalidInput, NotFound
from studio.services.context import Services
from studio.services.generation import catalogue
from studio.services.library.curation import owned_collection, owned_ids, owned_project

NAME_MAX = 200
DESCRIPTION_MAX = 2_000
COLLECTION_IMAGES_MAX = 500


@dataclass(frozen=True)
class ProjectView:
    id: uuid.UUID
    name: str
    description: str
    default_model: str | None
    default_params: dict[str, Any]
    cover_image_id: uuid.UUID | None
    cover_url: str | None
    image_count: int
    archived: bool
    created_at: datetime

    @property
    def defaults(self) -> Request | None:
        """The project's starting point for Generate, or None when it names no model."""
        if not self.default_model:
            return None
        return Request(self.default_model, "", "", "None", dict(self.default_params))


@dataclass(frozen=True)
class CollectionView:
    id: uuid.UUID
    name: str
    description: str
    is_public: bool
    cover_image_id: uuid.UUID | None
    cover_url: str | None
    image_count: int
    created_at: datetime


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    thumb_url: str
    prompt: str
    position: int


def _name(name: str) -> str:
    text = " ".join(name.split())
    if not text:
        raise InvalidInput("Give it a name.")
    if len(text) > NAME_MAX:
        raise InvalidInput(f"A name is up to {NAME_MAX} characters.")
    return text


def _description(text: str) -> str:
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput(f"A description is up to {DESCRIPTION_MAX} characters.")
    return text.strip()


def _cover_url(services: Services, image_id: uuid.UUID | None, session: Any) -> str | None:
    if image_id is None:
        return None
    image = session.get(Image, image_id)
    if image is None or image.deleted_at is not None:
        return None
    return services.files.url(image.thumb_key or image.storage_key)


# --- projects --------------------------------------------------------------------------------------------


def _check_defaults(services: Services, defaults: Request) -> None:
    """Defaults name an enabled model and parameters it accepts (InvalidParameters says what is wrong)."""
    spec = catalogue.model_spec(services, defaults.model)
    provider_arguments(spec, Request(defaults.model, "preview", "", "None", dict(defaults.params)))


def create_project(
    services: Services, owner_id: uuid.UUID, name: str, description: str = "", defaults: Request | None = None
) -> uuid.UUID:
    if defaults is not None:
        _check_defaults(services, defaults)
    with services.uow() as uow:
        project = Project(
            owner_id=owner_id,
            name=_name(name),
            description=_description(description),
            default_model=defaults.model if defaults else None,
            default_params=dict(defaults.params) if defaults else {},
        )
        uow.session.add(project)
        uow.session.flush()
        uow.commit()
        return project.id


def update_project(
    services: Services,
    owner_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    defaults: Request | None = None,
    clear_defaults: bool = False,
    cover_image_id: uuid.UUID | None = None,
) -> None:
    if defaults is not None:
        _check_defaults(services, defaults)  # before the unit of work: the catalogue opens its own
    with services.uow() as uow:
        project = owned_project(uow.session, owner_id, project_id)
        if name is not None:
            project.name = _name(name)
        if description is not None:
            project.description = _description(description)
        if defaults is not None:
            project.default_model, project.default_params = defaults.model, dict(defaults.params)
        if clear_defaults:
            project.default_model, project.default_params = None, {}
        if cover_image_id is not None:
            project.cover_image_id = owned_ids(uow.session, owner_id, [cover_image_id])[0]
        uow.commit()


def archive_project(services: Services, owner_id: uuid.UUID, project_id: uuid.UUID, archived: bool) -> None:
    with services.uow() as uow:
        project = owned_project(uow.session, owner_id, project_id)
        project.archived_at = utcnow() if archived else None
        uow.commit()


def duplicate_project(services: Services, owner_id: uuid.UUID, project_id: uuid.UUID) -> uuid.UUID:
    """A new project with the same description, defaults and cover (the images stay where they are)."""
    with services.uow() as uow:
        source = owned_project(uow.session, owner_id, project_id)
        copy = Project(
            owner_id=owner_id,
            name=f"{source.name} (copy)"[:NAME_MAX],
            description=source.description,
            default_model=source.default_model,
            default_params=dict(source.default_params),
            cover_image_id=source.cover_image_id,
        )
        uow.session.add(copy)
        uow.session.flush()
        uow.commit()
        return copy.id


def projects(services: Services, owner_id: uuid.UUID, *, archived: bool = False) -> list[ProjectView]:
    """The owner's projects (active, or archived ones), newest first, with their image counts."""
    with services.uow() as uow:
        counts = (
            sa.select(Image.project_id, sa.func.count().label("n"))
            .where(Image.owner_id == owner_id, Image.deleted_at.is_(None), Image.project_id.is_not(None))
            .group_by(Image.project_id)
            .subquery()
        )
        state = Project.archived_at.is_not(None) if archived else Project.archived_at.is_(None)
        rows = uow.session.execute(
            sa.select(Project, sa.func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.project_id == Project.id)
            .where(Project.owner_id == owner_id, state)
            .order_by(Project.created_at.desc(), Project.id.desc())
        ).all()
        return [_project_view(services, uow.session, row[0], int(row[1])) for row in rows]


def project(services: Services, owner_id: uuid.UUID, project_id: uuid.UUID) -> ProjectView:
    with services.uow() as uow:
        found = owned_project(uow.session, owner_id, project_id)
        count = uow.session.scalar(
            sa.select(sa.func.count()).where(Image.project_id == found.id, Image.deleted_at.is_(None))
        )
        return _project_view(services, uow.session, found, int(count or 0))


def _project_view(services: Services, session: Any, row: Project, count: int) -> ProjectView:
    return ProjectView(
        row.id, row.name, row.description, row.default_model, dict(row.default_params), row.cover_image_id,
        _cover_url(services, row.cover_image_id, session), count, row.archived_at is not None, row.created_at,
    )  # fmt: skip


def project_image_ids(services: Services, owner_id: uuid.UUID, project_id: uuid.UUID) -> list[uuid.UUID]:
    with services.uow() as uow:
        owned_project(uow.session, owner_id, project_id)
        query = (
            sa.select(Image.id)
            .where(Image.project_id == project_id, Image.owner_id == owner_id, Image.deleted_at.is_(None))
            .order_by(Image.created_at, Image.id)
        )
        return list(uow.session.scalars(query))


# --- collections -----------------------------------------------------------------------------------------


def create_collection(services: Services, owner_id: uuid.UUID, name: str, description: str = "") -> uuid.UUID:
    with services.uow() as uow:
        collection = Collection(owner_id=owner_id, name=_name(name), description=_description(description))
        uow.session.add(collection)
        uow.session.flush()
        uow.commit()
        return collection.id


def update_collection(
    services: Services,
    owner_id: uuid.UUID,
    collection_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    cover_image_id: uuid.UUID | None = None,
) -> None:
    with services.uow() as uow:
        collection = owned_collection(uow.session, owner_id, collection_id)
        if name is not None:
            collection.name = _name(name)
        if description is not None:
            collection.description = _description(description)
        if cover_image_id is not None:
            collection.cover_image_id = owned_ids(uow.session, owner_id, [cover_image_id])[0]
        uow.commit()


def rename_collection(
    services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID, name: str, description: str
) -> None:
    update_collection(services, owner_id, collection_id, name=name, description=description)


def collection(services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID) -> CollectionView:
    """One of the owner's collections; NotFound for anybody else's."""
    found = next((c for c in collections(services, owner_id) if c.id == collection_id), None)
    if found is None:
        raise NotFound("No such collection.")
    return found


def delete_collection(services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID) -> None:
    """The collection goes; its images stay in the library."""
    with services.uow() as uow:
        uow.session.delete(owned_collection(uow.session, owner_id, collection_id))
        uow.commit()


def collections(services: Services, owner_id: uuid.UUID) -> list[CollectionView]:
    with services.uow() as uow:
        counts = (
            sa.select(CollectionImage.collection_id, sa.func.count().label("n"))
            .join(Image, Image.id == CollectionImage.image_id)
            .where(Image.owner_id == owner_id, Image.deleted_at.is_(None))
            .group_by(CollectionImage.collection_id)
            .subquery()
        )
        rows = uow.session.execute(
            sa.select(Collection, sa.func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.collection_id == Collection.id)
            .where(Collection.owner_id == owner_id)
            .order_by(Collection.created_at.desc(), Collection.id.desc())
        ).all()
        return [
            CollectionView(
                row[0].id,
                row[0].name,
                row[0].description,
                row[0].is_public,
                row[0].cover_image_id,
                _cover_url(services, row[0].cover_image_id, uow.session),
                int(row[1]),
                row[0].created_at,
            )
            for row in rows
        ]


def members(services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID) -> list[Member]:
    """The collection's images in their order (those in the trash left out)."""
    urls = services.files
    with services.uow() as uow:
        owned_collection(uow.session, owner_id, collection_id)
        rows = uow.session.execute(
            sa.select(Image, CollectionImage.position)
            .join(CollectionImage, CollectionImage.image_id == Image.id)
            .where(CollectionImage.collection_id == collection_id, Image.deleted_at.is_(None))
            .order_by(CollectionImage.position, Image.id)
            .limit(COLLECTION_IMAGES_MAX)
        ).all()
        return [
            Member(r[0].id, urls.url(r[0].thumb_key or r[0].storage_key), r[0].prompt, r[1]) for r in rows
        ]


def reorder(
    services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID, ordered: list[uuid.UUID]
) -> None:
    """Put the collection's images in this order (ids not in it are refused; those left out go last)."""
    with services.uow() as uow:
        owned_collection(uow.session, owner_id, collection_id)
        rows = {
            row.image_id: row
            for row in uow.session.scalars(
                sa.select(CollectionImage)
                .where(CollectionImage.collection_id == collection_id)
                .order_by(CollectionImage.position)
            )
        }
        if any(image_id not in rows for image_id in ordered):
            raise NotFound("Some of those images are not in this collection.")
        rest = [image_id for image_id in rows if image_id not in set(ordered)]
        for position, image_id in enumerate([*dict.fromkeys(ordered), *rest]):
            rows[image_id].position = position
        uow.commit()


def move_member(
    services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID, image_id: uuid.UUID, step: int
) -> None:
    """Move one image earlier (-1) or later (+1) in the collection."""
    order = [member.id for member in members(services, owner_id, collection_id)]
    if image_id not in order:
        raise NotFound("That image is not in this collection.")
    index = order.index(image_id)
    target = max(0, min(len(order) - 1, index + step))
    order.insert(target, order.pop(index))
    reorder(services, owner_id, collection_id, order)


def remove_from_collection(
    services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID, ids: list[uuid.UUID]
) -> None:
    with services.uow() as uow:
        owned_collection(uow.session, owner_id, collection_id)
        uow.session.execute(
            sa.delete(CollectionImage).where(
                CollectionImage.collection_id == collection_id, CollectionImage.image_id.in_(ids)
            )
        )
        uow.commit()
