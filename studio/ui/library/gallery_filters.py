"""The gallery's search box, filters, sort order and page position, all kept in the URL.

Filter widgets are bound to query parameters (`bind="query-params"`), so a filtered view is a link; the page
position is the keyset cursor in `?at=` with the page number in `?p=` for display. Any change of filter or
sort returns to the first page.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import streamlit as st

from studio.domain.library import PAGE_SIZE, PAGE_SIZES, Aspect, GalleryFilter, Sort
from studio.errors import InvalidInput

CURSOR = "at"
PAGE = "p"
VIEWS = {"grid": "Grid", "list": "List"}  # bound widgets put the label in the URL: ?view=List
_ANY = ""
_CUSTOM = "custom"
# "Created": days back from today (UTC, as the images' times), or a custom range. The two date pickers
# appear only for a custom range: they are the heaviest widgets in Streamlit's frontend (~200 KB of
# scripts the rest of the app never loads).
WHEN = {"": "Any time", "1": "Today", "7": "Last 7 days", "30": "Last 30 days", "365": "Last 12 months"}


def first_page() -> None:
    """on_change of every filter: the old position means nothing in the new selection."""
    for name in (CURSOR, PAGE):
        if name in st.query_params:
            del st.query_params[name]


def _bound(widget: Any, label: str, key: str, **options: Any) -> Any:
    return widget(label, key=key, bind="query-params", on_change=first_page, **options)


def _choice(label: str, key: str, options: dict[str, str]) -> str:
    """A selectbox over `options` (value: label) with "Any" first; the chosen value, or "" for any."""
    values = [_ANY, *options]
    chosen = _bound(st.selectbox, label, key, options=values, format_func=lambda v: options.get(v, "Any"))
    return str(chosen or _ANY)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def search_and_sort() -> tuple[str, Sort, str, int]:
    """The search box, sort order, grid or list, and page size above the gallery."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        search = _bound(
            st.text_input, "Search prompts", "q", placeholder="lighthouse at dusk", max_chars=200,
            icon=":material/search:", width=320,
        )  # fmt: skip
        sort = _bound(
            st.selectbox, "Sort", "sort", options=[s.value for s in Sort],
            format_func=lambda v: Sort(v).label, width=140,
        )  # fmt: skip
        view = _bound(
            st.segmented_control, "View", "view", options=list(VIEWS), format_func=VIEWS.__getitem__,
            default="grid", required=True,
        )  # fmt: skip
        size = _bound(
            st.selectbox,
            "Per page",
            "n",
            options=list(PAGE_SIZES),
            index=PAGE_SIZES.index(PAGE_SIZE),
            width=100,
        )
    return str(search or ""), Sort(sort or Sort.NEWEST.value), str(view or "grid"), int(size or PAGE_SIZE)


def sidebar_filters(
    models: list[str], projects: dict[str, str], collections: dict[str, str], tags: list[str]
) -> dict[str, Any]:
    """The filters in the sidebar; the raw values, checked by `gallery_filter`."""
    with st.sidebar:
        st.subheader("Filters", anchor=False)
        values: dict[str, Any] = {
            "model": _choice("Model", "model", {m: m for m in models}),
            "project": _choice("Project", "project", projects),
            "collection": _choice("Collection", "collection", collections),
            "tag": _choice("Tag", "tag", {t: t for t in tags}),
            "favourites": _bound(st.toggle, "Favourites only", "fav"),
            "duplicates": _bound(
                st.toggle, "Near-duplicates only", "dups", help="Images that look like another of yours"
            ),
            "rating": _bound(
                st.select_slider, "Stars at least", "stars", options=[0, 1, 2, 3, 4, 5],
                format_func=lambda v: "any" if v == 0 else str(v),  # the label is what the URL holds
            ),
            "aspect": _choice("Aspect ratio", "aspect", {a.value: a.value.title() for a in Aspect}),
            "megapixels": _bound(
                st.select_slider, "Resolution at least", "mp", options=[0.0, 0.25, 0.5, 1.0, 2.0, 4.0],
                format_func=lambda v: "any" if v == 0 else f"{v:g} MP",
            ),
        }  # fmt: skip
        values["from"], values["to"] = _created()
    return values


def _created() -> tuple[date | None, date | None]:
    """The "Created" choice as a date range (None: open at that end)."""
    options = {**WHEN, _CUSTOM: "Custom range"}
    custom_link = "from" in st.query_params or "to" in st.query_params  # a link to a custom range
    when = _bound(
        st.selectbox, "Created", "when", options=list(options), format_func=options.__getitem__,
        index=list(options).index(_CUSTOM) if custom_link else 0,
    )  # fmt: skip
    if when == _CUSTOM:
        with st.container(horizontal=True):
            start = _bound(st.date_input, "From", "from", value=None)
            end = _bound(st.date_input, "To", "to", value=None)
        return start, end
    if not when:
        return None, None
    return datetime.now(UTC).date() - timedelta(days=int(when) - 1), None


def gallery_filter(search: str, values: dict[str, Any]) -> GalleryFilter:
    """The filter the widgets describe; a contradiction (the range ends before it starts) is shown and
    ignored."""
    start = values["from"] if isinstance(values["from"], date) else None
    end = values["to"] if isinstance(values["to"], date) else None
    try:
        return GalleryFilter(
            created_from=start,
            created_to=end,
            model=values["model"] or None,
            project_id=_uuid(values["project"]),
            collection_id=_uuid(values["collection"]),
            tag=values["tag"] or None,
            favourites=bool(values["favourites"]),
            min_rating=int(values["rating"]) or None,
            aspect=Aspect(values["aspect"]) if values["aspect"] else None,
            min_megapixels=float(values["megapixels"]) or None,
            search=search,
            duplicates=bool(values["duplicates"]),
        )
    except InvalidInput as err:
        st.sidebar.warning(str(err))
        return GalleryFilter(search=search)


def cursor() -> tuple[str | None, int]:
    page = st.query_params.get(PAGE, "1")
    return st.query_params.get(CURSOR) or None, int(page) if page.isdigit() and int(page) > 0 else 1


def _go(position: str | None, page: int) -> None:
    if position:
        st.query_params[CURSOR] = position
        st.query_params[PAGE] = str(page)
    else:
        first_page()


def pager(prev_cursor: str | None, next_cursor: str | None, page: int, shown: int) -> None:
    """Previous / page N / Next under the gallery."""
    with st.container(horizontal=True, horizontal_alignment="center", vertical_alignment="center"):
        st.button(
            "Previous", icon=":material/chevron_left:", key="gallery.prev", disabled=prev_cursor is None,
            on_click=_go, args=(prev_cursor if page > 2 else None, page - 1),
        )  # fmt: skip
        st.caption(f"Page {page} · {shown} image{'s' if shown != 1 else ''}")
        st.button(
            "Next", icon=":material/chevron_right:", key="gallery.next", disabled=next_cursor is None,
            on_click=_go, args=(next_cursor, page + 1),
        )  # fmt: skip
