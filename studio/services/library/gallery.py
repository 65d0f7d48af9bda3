"""The library's reads: the gallery page by keyset, the filter choices, storage used, and the owner check
every library use case starts from (one image in full is in studio.services.library.details).

Every query names the owner. The gallery reads one page of ids in a sort order over indexed columns and
continues from the last row it showed (a keyset), so page 2,000 costs what page 1 costs and images arriving
meanwhile never shift a page. Search uses PostgreSQL's tsvector (GIN expression index) or SQLite's FTS5 table
(kept in sync by triggers); see migration 0006.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from studio.adapters.db.models import (
    Collection,
    CollectionImage,
    Image,
    ImageTag,
)
from studio.domain.library import (
    PAGE_SIZES,
    SORT_DESCENDING,
    Cursor,
    GalleryFilter,
    Sort,
    fts5_query,
    search_words,
)
from studio.errors import InvalidInput, NotFound
from studio.services.context import Services


@dataclass(frozen=True)
class Thumb:
    """One gallery cell: plain values and a cached thumbnail URL."""

    id: uuid.UUID
    thumb_url: str
    width: int
    height: int
    prompt: str
    model_endpoint: str
    created_at: datetime
    is_favourite: bool
    rating: int | None
    project_id: uuid.UUID | None
    byte_size: int


@dataclass(frozen=True)
class GalleryPage:
    items: list[Thumb]
    next_cursor: str | None  # the page after this one, or None at the end
    prev_cursor: str | None  # the page before this one, or None at the start


EVERYTHING = GalleryFilter()

# --- the gallery -----------------------------------------------------------------------------------------


def sort_keys(sort: Sort) -> list[sa.ColumnElement[Any]]:
    """The columns of a sort order, matching the indexes of migration 0006 and the models."""
    tail: list[sa.ColumnElement[Any]] = [Image.__table__.c.created_at, Image.__table__.c.id]
    if sort is Sort.RATING:
        return [sa.func.coalesce(Image.rating, 0), *tail]
    if sort is Sort.MODEL:
        return [Image.__table__.c.model_endpoint, *tail]
    return tail


def _key_values(sort: Sort, image: Image) -> tuple[Any, ...]:
    lead: tuple[Any, ...] = {
        Sort.NEWEST: (),
        Sort.OLDEST: (),
        Sort.RATING: (image.rating or 0,),
        Sort.MODEL: (image.model_endpoint,),
    }[sort]
    return (*lead, image.created_at, image.id)


def _directions(sort: Sort, backwards: bool) -> list[bool]:
    return [descending != backwards for descending in SORT_DESCENDING[sort]]


def order_by(sort: Sort, backwards: bool = False) -> list[sa.ColumnElement[Any]]:
    keys = sort_keys(sort)
    return [k.desc() if d else k.asc() for k, d in zip(keys, _directions(sort, backwards), strict=True)]


def after(sort: Sort, values: tuple[Any, ...], backwards: bool = False) -> sa.ColumnElement[bool]:
    """Rows strictly past `values` in the order read. One row comparison when every key runs the same way
    (an index range); otherwise a range on the first key plus the exact condition within its ties."""
    keys, directions = sort_keys(sort), _directions(sort, backwards)
    if len(set(directions)) == 1:
        left, right = (
            sa.tuple_(*keys),
            sa.tuple_(*[sa.literal(v, k.type) for k, v in zip(keys, values, strict=False)]),
        )
        return left < right if directions[0] else left > right
    branches = []
    for i, (key, descending) in enumerate(zip(keys, directions, strict=True)):
        ties = [keys[j] == values[j] for j in range(i)]
        branches.append(sa.and_(*ties, key < values[i] if descending else key > values[i]))
    lead = keys[0] <= values[0] if directions[0] else keys[0] >= values[0]
    return sa.and_(lead, sa.or_(*branches))


def aspect_expression() -> sa.ColumnElement[str]:
    """The expression of ix_images_owner_aspect (migration 0006), constants inline so the index matches."""
    return sa.case(
        (Image.width > Image.height, sa.literal_column("'landscape'")),
        (Image.width < Image.height, sa.literal_column("'portrait'")),
        else_=sa.literal_column("'square'"),
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def search_condition(session: Session, words: list[str]) -> sa.ColumnElement[bool]:
    """Images whose prompt holds every word (stemmed): the GIN tsvector index or the FTS5 table."""
    if session.get_bind().dialect.name == "postgresql":
        config: sa.ColumnElement[Any] = sa.literal_column("'english'::regconfig")
        vector = sa.func.to_tsvector(config, Image.prompt)
        return vector.op("@@")(sa.func.plainto_tsquery(config, " ".join(words)))
    matches: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("images_fts"))
        .where(sa.literal_column("images_fts").op("MATCH")(fts5_query(words)))
    )
    return sa.literal_column("images.rowid").in_(matches)


def conditions(session: Session, owner_id: uuid.UUID, chosen: GalleryFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of a gallery query: the owner's images outside the trash, narrowed by the filter."""
    where: list[sa.ColumnElement[bool]] = [Image.owner_id == owner_id, Image.deleted_at.is_(None)]
    if chosen.created_from:
        where.append(Image.created_at >= _day_start(chosen.created_from))
    if chosen.created_to:
        where.append(Image.created_at < _day_start(chosen.created_to + timedelta(days=1)))
    if chosen.model:
        where.append(Image.model_endpoint == chosen.model)
    if chosen.project_id:
        where.append(Image.project_id == chosen.project_id)
    if chosen.collection_id:
        members = (
            sa.select(CollectionImage.image_id)
            .join(Collection, Collection.id == CollectionImage.collection_id)
            .where(Collection.id == chosen.collection_id, Collection.owner_id == owner_id)
        )
        where.append(Image.id.in_(members))
    if chosen.tag:
        where.append(
            sa.exists().where(
                ImageTag.owner_id == owner_id, ImageTag.tag == chosen.tag, ImageTag.image_id == Image.id
            )
        )
    if chosen.favourites:
        where.append(Image.is_favourite == sa.true())  # `= true`: PostgreSQL matches the partial index
    if chosen.min_rating:
        where.append(Image.rating >= chosen.min_rating)
    if chosen.aspect is not None:
        where.append(aspect_expression() == chosen.aspect.value)
    if chosen.min_megapixels:
        where.append(Image.width * Image.height >= int(chosen.min_megapixels * 1_000_000))
    words = search_words(chosen.search)
    if words:
        where.append(search_condition(session, words))
    if chosen.duplicates:
        twin = aliased(Image)
        where.append(Image.phash.is_not(None))
        where.append(
            sa.exists().where(
                twin.owner_id == owner_id,
                twin.phash == Image.phash,
                twin.id != Image.id,
                twin.deleted_at.is_(None),
            )
        )
    return where


def gallery_page(
    services: Services,
    owner_id: uuid.UUID,
    chosen: GalleryFilter = EVERYTHING,
    sort: Sort = Sort.NEWEST,
    cursor: str | None = None,
    page_size: int = PAGE_SIZES[1],
) -> GalleryPage:
    """One page of the owner's gallery, from `cursor` (None: the first page); a bad cursor is InvalidInput."""
    if page_size not in PAGE_SIZES:
        raise InvalidInput(f"A page holds {', '.join(map(str, PAGE_SIZES))} images.")
    position = Cursor.decode(cursor, sort) if cursor else None
    backwards = bool(position and position.before)
    with services.uow() as uow:
        where = conditions(uow.session, owner_id, chosen)
        if position is not None:
            where.append(after(sort, position.values, backwards))
        query = sa.select(Image).where(*where).order_by(*order_by(sort, backwards)).limit(page_size + 1)
        rows = list(uow.session.scalars(query))
        return _page(services, sort, rows, page_size, position)


def _page(
    services: Services, sort: Sort, rows: list[Image], page_size: int, position: Cursor | None
) -> GalleryPage:
    backwards = bool(position and position.before)
    more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    has_next = (more and not backwards) or (backwards and position is not None)
    has_prev = (more and backwards) or (not backwards and position is not None)
    urls = services.files
    items = [
        Thumb(
            id=row.id,
            thumb_url=urls.url(row.thumb_key or row.storage_key),
            width=row.width,
            height=row.height,
            prompt=row.prompt,
            model_endpoint=row.model_endpoint,
            created_at=row.created_at,
            is_favourite=row.is_favourite,
            rating=row.rating,
            project_id=row.project_id,
            byte_size=row.byte_size,
        )
        for row in rows
    ]
    next_cursor = prev_cursor = None
    if rows and has_next:
        next_cursor = Cursor(_key_values(sort, rows[-1])).encode()
    if rows and has_prev:
        prev_cursor = Cursor(_key_values(sort, rows[0]), before=True).encode()
    return GalleryPage(items, next_cursor, prev_cursor)


def gallery_ids(
    services: Services, owner_id: uuid.UUID, chosen: GalleryFilter, sort: Sort, limit: int
) -> list[uuid.UUID]:
    """The ids of the first `limit` images the filter selects, in order (bulk actions on "all matching")."""
    with services.uow() as uow:
        query = (
            sa.select(Image.id)
            .where(*conditions(uow.session, owner_id, chosen))
            .order_by(*order_by(sort))
            .limit(limit)
        )
        return list(uow.session.scalars(query))


def models_used(services: Services, owner_id: uuid.UUID) -> list[str]:
    """The models of the owner's images, for the model filter."""
    with services.uow() as uow:
        query = sa.select(Image.model_endpoint).where(Image.owner_id == owner_id).distinct()
        return sorted(uow.session.scalars(query))


def tags_used(services: Services, owner_id: uuid.UUID) -> list[str]:
    with services.uow() as uow:
        query = sa.select(ImageTag.tag).where(ImageTag.owner_id == owner_id).distinct().order_by(ImageTag.tag)
        return list(uow.session.scalars(query))


def storage_used(services: Services, user_id: uuid.UUID) -> int:
    """Bytes of original images the user keeps, the trash included (it still occupies storage)."""
    with services.uow() as uow:
        total = uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Image.byte_size), 0)).where(Image.owner_id == user_id)
        )
        return int(total or 0)


# --- one image -------------------------------------------------------------------------------------------


def owned_image(session: Session, owner_id: uuid.UUID, image_id: uuid.UUID, *, lock: bool = False) -> Image:
    """The owner's image (in the trash or not); NotFound for anybody else's, exactly as for a missing one."""
    query = sa.select(Image).where(Image.id == image_id, Image.owner_id == owner_id)
    if lock:
        query = query.with_for_update()
    image = session.scalar(query)
    if image is None:
        raise NotFound("No such image.")
    return image


def download_name(image: Image) -> str:
    extension = image.storage_key.rsplit(".", 1)[-1] if "." in image.storage_key else "bin"
    return f"studio-{image.id}.{extension}"
