"""The gallery's filters, sort orders, search and keyset pages, on SQLite (FTS5) and PostgreSQL (tsvector).

Every answer is checked against the same selection done in Python over the seeded rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from studio.domain.library import Aspect, Cursor, GalleryFilter, Sort
from studio.errors import InvalidInput
from studio.services.context import Services
from studio.services.library import curation, gallery, projects, trash
from tests.support.builders import add_image, minutes, new_user


@dataclass
class Row:
    id: uuid.UUID
    n: int
    prompt: str
    model: str
    rating: int | None
    favourite: bool
    width: int
    height: int
    tags: tuple[str, ...]
    project: uuid.UUID | None
    phash: str | None

    @property
    def created(self) -> Any:
        return minutes(self.n)


PROMPTS = [
    "red lighthouse at dusk",
    "blue whale in deep sea",
    "lighthouses in the fog",
    "a cat on a red sofa",
]
MODELS = ["fal-ai/flux/dev", "fal-ai/flux/schnell", "fal-ai/recraft-v3"]
SIZES = [(1024, 1024), (768, 1344), (1344, 768), (512, 512)]


@pytest.fixture
def seeded(backend: Services) -> tuple[Services, uuid.UUID, uuid.UUID, list[Row]]:
    """40 images of Alice with varied fields (some tied in time), and images of Bob that must never show."""
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    project = projects.create_project(backend, alice, "Harbour")
    rows = []
    for i in range(40):
        width, height = SIZES[i % 4]
        row = Row(
            id=uuid.uuid4(), n=i // 2 if i < 10 else i,  # the first ten come in pairs of equal time
            prompt=PROMPTS[i % 4], model=MODELS[i % 3], rating=None if i % 5 == 0 else (i % 5),
            favourite=i % 7 == 0, width=width, height=height, tags=("sea",) if i % 3 == 0 else (),
            project=project if i % 4 == 1 else None, phash="ab" * 8 if i in (3, 17) else f"{i:016x}",
        )  # fmt: skip
        add_image(
            backend, alice, id=row.id, prompt=row.prompt, model=row.model, created_at=row.created,
            rating=row.rating, is_favourite=row.favourite, width=width, height=height, tags=row.tags,
            project_id=row.project, phash=row.phash,
        )  # fmt: skip
        rows.append(row)
    trashed = add_image(backend, alice, prompt="red lighthouse", created_at=minutes(100))
    curation_ids = [trashed]

    trash.move_to_trash(backend, alice, curation_ids)
    for i in range(5):
        add_image(backend, bob, prompt="red lighthouse at dusk", created_at=minutes(i), tags=("sea",))
    return backend, alice, project, rows


def expected(rows: list[Row], keep: Callable[[Row], bool], sort: Sort) -> list[uuid.UUID]:
    chosen = [row for row in rows if keep(row)]
    if sort is Sort.NEWEST:
        chosen.sort(key=lambda r: (r.created, r.id), reverse=True)
    elif sort is Sort.OLDEST:
        chosen.sort(key=lambda r: (r.created, r.id))
    elif sort is Sort.RATING:
        chosen.sort(key=lambda r: (r.rating or 0, r.created, r.id), reverse=True)
    else:
        chosen.sort(key=lambda r: (r.created, r.id), reverse=True)
        chosen.sort(key=lambda r: r.model)
    return [row.id for row in chosen]


def walk(services: Services, owner: uuid.UUID, chosen: GalleryFilter, sort: Sort) -> list[uuid.UUID]:
    """Every page forwards with the smallest page size, checking the way back matches."""
    seen: list[uuid.UUID] = []
    pages: list[list[uuid.UUID]] = []
    cursor = None
    while True:
        page = gallery.gallery_page(services, owner, chosen, sort, cursor, page_size=24)
        pages.append([item.id for item in page.items])
        seen += pages[-1]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # and back again from the last page
    back = gallery.gallery_page(services, owner, chosen, sort, cursor, page_size=24) if cursor else None
    if back is not None and len(pages) > 1:
        previous = gallery.gallery_page(services, owner, chosen, sort, back.prev_cursor, page_size=24)
        assert [item.id for item in previous.items] == pages[-2]
        assert previous.prev_cursor is None or len(pages) > 2
    return seen


@pytest.mark.parametrize("sort", list(Sort))
def test_each_sort_order_pages_through_everything_once_in_order(
    seeded: tuple[Services, uuid.UUID, uuid.UUID, list[Row]], sort: Sort
) -> None:
    services, alice, _, rows = seeded
    assert walk(services, alice, GalleryFilter(), sort) == expected(rows, lambda r: True, sort)


def filters(project: uuid.UUID) -> list[tuple[GalleryFilter, Callable[[Row], bool]]]:
    return [
        (GalleryFilter(model="fal-ai/flux/dev"), lambda r: r.model == "fal-ai/flux/dev"),
        (GalleryFilter(project_id=project), lambda r: r.project == project),
        (GalleryFilter(tag="sea"), lambda r: "sea" in r.tags),
        (GalleryFilter(favourites=True), lambda r: r.favourite),
        (GalleryFilter(min_rating=3), lambda r: (r.rating or 0) >= 3),
        (GalleryFilter(aspect=Aspect.SQUARE), lambda r: r.width == r.height),
        (GalleryFilter(aspect=Aspect.PORTRAIT), lambda r: r.height > r.width),
        (GalleryFilter(aspect=Aspect.LANDSCAPE), lambda r: r.width > r.height),
        (GalleryFilter(min_megapixels=1.0), lambda r: r.width * r.height >= 1_000_000),
        (GalleryFilter(created_from=date(2026, 3, 1), created_to=date(2026, 3, 1)), lambda r: True),
        (GalleryFilter(created_from=date(2026, 3, 2)), lambda r: False),
        (GalleryFilter(search="red"), lambda r: "red" in r.prompt.split()),
        (GalleryFilter(search="Lighthouse"), lambda r: "lighthouse" in r.prompt),  # stemmed: lighthouses too
        (GalleryFilter(search="red lighthouse"), lambda r: r.prompt == "red lighthouse at dusk"),
        (
            GalleryFilter(search="the cat on a sofa"),
            lambda r: r.prompt == "a cat on a red sofa",
        ),  # stop words
        (GalleryFilter(search='"whale" -dusk*'), lambda r: False),  # operators are plain words, all required
        (GalleryFilter(duplicates=True), lambda r: r.phash == "ab" * 8),
        (
            GalleryFilter(search="lighthouse", model="fal-ai/flux/schnell", min_rating=1),
            lambda r: "lighthouse" in r.prompt and r.model == "fal-ai/flux/schnell" and (r.rating or 0) >= 1,
        ),
    ]


def test_filters_and_search_select_exactly_the_right_images(
    seeded: tuple[Services, uuid.UUID, uuid.UUID, list[Row]],
) -> None:
    services, alice, project, rows = seeded
    for chosen, keep in filters(project):
        for sort in (Sort.NEWEST, Sort.RATING):
            assert walk(services, alice, chosen, sort) == expected(rows, keep, sort), chosen


def test_collection_filter(seeded: tuple[Services, uuid.UUID, uuid.UUID, list[Row]]) -> None:
    services, alice, _, rows = seeded
    collection = projects.create_collection(services, alice, "Best")
    picked = [rows[5].id, rows[30].id]
    curation.add_to_collection(services, alice, picked, collection)
    shown = walk(services, alice, GalleryFilter(collection_id=collection), Sort.NEWEST)
    assert shown == [rows[30].id, rows[5].id]


def test_pages_never_skip_or_repeat_while_new_images_arrive(
    seeded: tuple[Services, uuid.UUID, uuid.UUID, list[Row]],
) -> None:
    services, alice, _, rows = seeded
    for sort in (Sort.NEWEST, Sort.OLDEST, Sort.RATING, Sort.MODEL):
        before = expected(rows, lambda r: True, sort)
        first = gallery.gallery_page(services, alice, GalleryFilter(), sort, page_size=24)
        arrived = [add_image(services, alice, prompt="new", created_at=minutes(500 + i)) for i in range(3)]
        second = gallery.gallery_page(services, alice, GalleryFilter(), sort, first.next_cursor, page_size=24)
        shown = [item.id for item in first.items + second.items]
        fresh = set(arrived)
        assert [i for i in shown if i not in fresh] == before, sort  # nothing skipped or repeated

        trash.move_to_trash(services, alice, arrived)


def test_the_gallery_is_scoped_to_its_owner(seeded: tuple[Services, uuid.UUID, uuid.UUID, list[Row]]) -> None:
    services, alice, project, _ = seeded
    mallory = new_user(services, "mallory", tagged=True)
    assert gallery.gallery_page(services, mallory).items == []
    assert gallery.gallery_page(services, mallory, GalleryFilter(project_id=project)).items == []
    assert gallery.gallery_page(services, mallory, GalleryFilter(search="red lighthouse")).items == []
    page = gallery.gallery_page(services, alice)
    stolen = gallery.gallery_page(services, mallory, cursor=page.next_cursor)  # a cursor is no key
    assert stolen.items == []


def test_a_bad_cursor_or_page_size_is_refused(backend: Services) -> None:
    owner = new_user(backend, "carol", tagged=True)
    for cursor in ("garbage", Cursor((1, 2)).encode(), Cursor(("x", "y")).encode()):
        with pytest.raises(InvalidInput):
            gallery.gallery_page(backend, owner, cursor=cursor)
    with pytest.raises(InvalidInput):
        gallery.gallery_page(backend, owner, page_size=1000)


def test_storage_used_counts_the_owners_bytes_trash_included(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    add_image(backend, alice, byte_size=1_000)
    thrown = add_image(backend, alice, byte_size=2_500)
    add_image(backend, bob, byte_size=9_999)

    trash.move_to_trash(backend, alice, [thrown])
    assert gallery.storage_used(backend, alice) == 3_500
    assert gallery.storage_used(backend, new_user(backend, "dan", tagged=True)) == 0
