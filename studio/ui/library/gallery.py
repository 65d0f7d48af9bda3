"""The gallery's body: thumbnails (URL strings only) in a grid or list, selection, bulk actions, lightbox."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Literal

import streamlit as st

from studio.domain.library import ZIP_INLINE_LIMIT, parse_tags
from studio.errors import StudioError
from studio.services.library import curation, downloads, trash
from studio.services.library.gallery import Thumb
from studio.ui.library import image_view
from studio.ui.library.thumbnails import Tile, tiles
from studio.ui.shell import components
from studio.ui.shell.deps import services

LIGHTBOX = image_view.LIGHTBOX
_DOWNLOAD = "gallery.download"
SELECTING = "gallery.selecting"
SELECTED = "gallery.selected"  # the ids (str) ticked while selecting
TILES = "gallery.tiles"


def selected(items: list[Thumb]) -> list[uuid.UUID]:
    """The ticked images among `items` (the page on screen)."""
    chosen = st.session_state.get(SELECTED, set())
    return [item.id for item in items if str(item.id) in chosen]


def _select_all(items: list[Thumb], value: bool) -> None:
    st.session_state[SELECTED] = {str(item.id) for item in items} if value else set()


def _clicked(image_id: str) -> None:
    """A tile's click: tick or untick it while selecting, otherwise open it in the lightbox."""
    try:
        uuid.UUID(image_id)
    except ValueError:
        return  # not a tile's id: the page never sends one
    if st.session_state.get(SELECTING):
        st.session_state[SELECTED] = set(st.session_state.get(SELECTED, set())) ^ {image_id}
    else:
        st.session_state[LIGHTBOX] = image_id


def _caption(item: Thumb) -> str:
    stars = "★" * (item.rating or 0)
    heart = "♥ " if item.is_favourite else ""
    return f"{heart}{stars} {components.excerpt(item.prompt, 60) or '(no prompt)'}".strip()


def _row_detail(item: Thumb, names: dict[str, str]) -> str:
    return (
        f"{names.get(item.model_endpoint, item.model_endpoint)} · {item.width}×{item.height} · "
        f"{'★' * (item.rating or 0) or 'unrated'}{' · ♥' if item.is_favourite else ''} · "
        f"{components.ago(item.created_at)}"
    )


def show(items: list[Thumb], view: str, names: dict[str, str], selecting: bool) -> None:
    """The page of images as thumbnail tiles (grid) or rows (list); a click opens an image, or ticks it
    while selecting."""
    if view == "list":
        shown = [
            Tile(str(item.id), item.thumb_url, components.excerpt(item.prompt, 160) or "(no prompt)",
                 _row_detail(item, names), item.prompt)
            for item in items
        ]  # fmt: skip
    else:
        shown = [Tile(str(item.id), item.thumb_url, _caption(item), title=item.prompt) for item in items]
    tiles(
        shown, key=TILES, layout="list" if view == "list" else "grid", on_click=_clicked,
        selecting=selecting, selected=st.session_state.get(SELECTED, set()),
    )  # fmt: skip


def _act(label: str, action: Callable[[], int]) -> None:
    components.act(action, lambda count: f"{label}: {count} image{'s' if count != 1 else ''}")


def bulk_actions(
    owner_id: uuid.UUID, items: list[Thumb], projects: dict[str, str], collections: dict[str, str]
) -> bool:
    """The Select switch and, while selecting, what to do with the ticked images (every action is one
    service call). True while selecting."""
    chosen = selected(items)
    with st.container(horizontal=True, vertical_alignment="center"):
        selecting = st.toggle("Select", key=SELECTING, help="Tick images to favourite, tag, file or download")
        if not selecting:
            st.session_state.pop(SELECTED, None)
        else:
            st.button(
                "Select all", key="gallery.all", on_click=_select_all, args=(items, True), type="tertiary"
            )
            st.button("Clear", key="gallery.none", on_click=_select_all, args=(items, False), type="tertiary")
            st.caption(f"{len(chosen)} selected")
    if not (selecting and chosen):
        return selecting
    svc = services()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if st.button("Favourite", icon=":material/favorite:", key="bulk.fav"):
            _act("Favourited", lambda: curation.set_favourite(svc, owner_id, chosen, True))
        if 2 <= len(chosen) <= 4:
            st.page_link(
                "pages/compare.py", label="Compare", icon=":material/compare:",
                query_params={"ids": ",".join(str(image_id) for image_id in chosen)},
            )  # fmt: skip
        else:
            st.button("Compare", icon=":material/compare:", key="bulk.compare", disabled=True,
                      help="Select two to four images to compare them")  # fmt: skip
        if st.button("Move to trash", icon=":material/delete:", key="bulk.trash"):
            _act("Moved to the trash", lambda: trash.move_to_trash(svc, owner_id, chosen))
        with st.popover("Project", icon=":material/folder:"):
            target = st.selectbox(
                "Move to project",
                ["", *projects],
                format_func=lambda v: projects.get(v, "No project"),
                key="bulk.project",
            )
            if st.button("Move", key="bulk.move"):
                _act(
                    "Moved",
                    lambda: curation.move_to_project(
                        svc, owner_id, chosen, uuid.UUID(target) if target else None
                    ),
                )
        with st.popover("Collection", icon=":material/collections_bookmark:"):
            if collections:
                picked = st.selectbox(
                    "Add to collection",
                    list(collections),
                    format_func=collections.__getitem__,
                    key="bulk.collection",
                )
                if st.button("Add", key="bulk.add"):
                    _act(
                        "Added", lambda: curation.add_to_collection(svc, owner_id, chosen, uuid.UUID(picked))
                    )
            else:
                st.caption("Create a collection on the Collections page first.")
        with st.popover("Tag", icon=":material/sell:"):
            text = st.text_input("Tags, comma-separated", key="bulk.tags")
            if st.button("Add tags", key="bulk.tag"):
                _act("Tagged", lambda: curation.add_tags(svc, owner_id, chosen, parse_tags(text or "")))
        with st.popover("Download", icon=":material/download:"):
            _download(owner_id, chosen)
    return selecting


def _download(owner_id: uuid.UUID, chosen: list[uuid.UUID]) -> None:
    svc = services()
    note = "ready at once" if len(chosen) <= ZIP_INLINE_LIMIT else "built in the background"
    if st.button(f"ZIP of the originals ({note})", key="bulk.zip", icon=":material/folder_zip:"):
        try:
            made = downloads.prepare_zip(svc, owner_id, chosen)
        except StudioError as err:
            st.error(str(err))
        else:
            remember_download(made)
    for fmt in ("csv", "json"):
        kind: Literal["csv", "json"] = "csv" if fmt == "csv" else "json"
        st.download_button(
            f"Metadata as {fmt.upper()}", key=f"bulk.meta.{fmt}", icon=":material/description:",
            data=functools.partial(downloads.export_metadata, svc, owner_id, chosen, kind),
            file_name=f"studio-metadata.{fmt}", mime="text/csv" if fmt == "csv" else "application/json",
            on_click="ignore",
        )  # fmt: skip


def remember_download(made: downloads.Download) -> None:
    st.session_state[_DOWNLOAD] = (str(made.id), made.count)


def pending_download(owner_id: uuid.UUID) -> None:
    """The ZIP asked for last: its link once ready, polled every 2 s while a job builds it."""
    wanted = st.session_state.get(_DOWNLOAD)
    if not wanted:
        return
    download_id, count = uuid.UUID(wanted[0]), int(wanted[1])
    status = downloads.zip_status(services(), owner_id, download_id, count)

    @st.fragment(run_every=None if status.url or status.failed else 2)
    def panel() -> None:
        current = downloads.zip_status(services(), owner_id, download_id, count)
        if current.url:
            st.link_button(
                f"Download ZIP ({count} images)", current.url, icon=":material/download:", type="primary"
            )
            st.caption("The link works for 15 minutes.")
        elif current.failed:
            st.error("The ZIP could not be built. Try again with fewer images.")
        else:
            st.info(f"Building a ZIP of {count} images…", icon=":material/hourglass_top:")
            return
        if status.url is None and not status.failed:
            st.rerun()  # stop polling

    panel()


def lightbox(owner_id: uuid.UUID) -> None:
    """The image opened from the grid, in a dialog, until it is dismissed."""
    wanted = st.session_state.get(LIGHTBOX)
    if not wanted:
        return

    def close() -> None:
        st.session_state.pop(LIGHTBOX, None)

    @st.dialog("Image", width="large", on_dismiss=close)
    def dialog() -> None:
        image_view.show(owner_id, uuid.UUID(wanted), in_dialog=True)

    dialog()
