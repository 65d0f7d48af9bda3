"""One image in full: the picture, its metadata, and what its owner can do with it (lightbox and page)."""

from __future__ import annotations

import json
import uuid

import streamlit as st

from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.generation import operation_label
from studio.domain.library import parse_tags
from studio.domain.sharing import ShareTarget
from studio.errors import NotFound
from studio.services.generation import catalogue
from studio.services.library import curation, details, lineage, projects, trash
from studio.services.library.details import ImageDetail, Related
from studio.ui.generation import generate_form, iterate_actions
from studio.ui.library import share_controls
from studio.ui.library.lineage_tree import TreeNode, lineage_tree
from studio.ui.shell import components
from studio.ui.shell.deps import services

IMAGE_PAGE = "pages/image.py"
LIGHTBOX = "gallery.lightbox"  # the id of the image open in the gallery's dialog
_OPEN = "img.open"  # the image a click in the family tree asked for
_RATINGS = [0, 1, 2, 3, 4, 5]


def _size(byte_size: int) -> str:
    return f"{byte_size / 1_000_000:.1f} MB" if byte_size >= 1_000_000 else f"{byte_size / 1000:.0f} KB"


def related_strip(items: list[Related], label: str, key: str) -> None:
    """Thumbnails that open their image, each with the operation that made it and what changed."""
    if not items:
        return
    st.caption(label)
    with st.container(horizontal=True, gap="small"):
        for item in items:
            with st.container(width=170, gap="xsmall"):
                st.image(item.thumb_url, width=150)
                if item.label:
                    st.markdown(f"**{components.escape(item.label)}**")
                if item.changes:
                    st.caption(components.escape(" · ".join(item.changes)))
                st.page_link(
                    IMAGE_PAGE, label="Open", query_params={"id": str(item.id)}, icon=":material/open_in_new:"
                )


def family_tree(owner_id: uuid.UUID, detail: ImageDetail, key: str) -> None:
    """The whole family, root to every descendant, each step with its diff; a click opens the image."""
    family = lineage.family(services(), owner_id, detail.id)
    if len(family.nodes) < 2:
        st.caption("Nothing has been made from this family yet: iterate to grow it.")
        return
    st.caption(
        f"{len(family.nodes)} images in this family"
        + (f" (the first {lineage.FAMILY_LIMIT} are shown)" if family.truncated else "")
    )

    def open_node(node_id: str) -> None:
        st.session_state.pop(LIGHTBOX, None)
        st.session_state[_OPEN] = node_id

    nodes = [
        TreeNode(
            id=str(node.id), parent=str(node.parent_id) if node.parent_id else None, url=node.thumb_url,
            label=node.label, detail=" · ".join(map(str, node.changes)), title=node.prompt,
        )
        for node in family.nodes
    ]  # fmt: skip
    lineage_tree(nodes, key=f"{key}.tree", current=str(detail.id), on_open=open_node)


def _model_name(endpoint: str) -> str:
    """The catalogue's name with its endpoint, or the endpoint alone for a model no longer listed."""
    spec = BY_ENDPOINT.get(endpoint)
    return f"{spec.name} ({endpoint})" if spec else endpoint


def metadata(detail: ImageDetail) -> None:
    st.markdown(f"**Prompt** · {components.escape(detail.prompt) or '*(none)*'}")
    if detail.negative_prompt:
        st.markdown(f"**Negative prompt** · {components.escape(detail.negative_prompt)}")
    facts = {
        "Model": _model_name(detail.model_endpoint), "Operation": operation_label(detail.operation),
        "Seed": str(detail.seed or "-"),
        "Size": f"{detail.width}×{detail.height} · {_size(detail.byte_size)}", "Credits": str(detail.credits),
        "Created": f"{detail.created_at:%d %b %Y %H:%M} UTC", "Project": detail.project_name or "-",
    }  # fmt: skip
    if detail.fallback_for:  # the provider failed the job on the model asked for: it ran here instead
        facts["Model"] += f", the fallback of a failed {_model_name(detail.fallback_for)} job"
    st.markdown("  \n".join(f"**{k}** · {components.escape(v)}" for k, v in facts.items()))
    with st.expander("Parameters and timings"):
        st.code(
            json.dumps({"params": detail.params, "timings": detail.timings}, indent=2, default=str),
            language="json",
        )


def _recall(detail: ImageDetail) -> None:
    spec = next(
        (m for m in catalogue.enabled_models(services()) if m.endpoint_id == detail.request.model), None
    )
    generate_form.recall(detail.request, spec)
    st.session_state.pop(LIGHTBOX, None)
    st.switch_page("pages/generate.py")


def actions(owner_id: uuid.UUID, detail: ImageDetail, key: str) -> None:
    svc = services()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.link_button("Download original", detail.download_url, icon=":material/download:")
        if detail.mask_url:
            st.link_button(
                "Mask", detail.mask_url, icon=":material/gradient:", help="The mask this image kept"
            )
        heart = "Unfavourite" if detail.is_favourite else "Favourite"
        if st.button(heart, key=f"{key}.fav", icon=":material/favorite:"):
            components.act(
                lambda: curation.set_favourite(svc, owner_id, [detail.id], not detail.is_favourite),
                f"{heart}d",
            )
        if st.button(
            "Recall",
            key=f"{key}.recall",
            icon=":material/settings_backup_restore:",
            help="Put this prompt and these settings back in the Generate form",
        ):
            _recall(detail)
        if detail.deleted_at is None and st.button(
            "Move to trash", key=f"{key}.trash", icon=":material/delete:"
        ):
            st.session_state.pop(LIGHTBOX, None)
            components.act(lambda: trash.move_to_trash(svc, owner_id, [detail.id]), "Moved to the trash")
    rating = st.segmented_control(
        "Rating", _RATINGS, default=detail.rating or 0, key=f"{key}.rating.{detail.rating}",
        format_func=lambda v: "none" if v == 0 else "★" * v,
    )  # fmt: skip
    if rating is not None and (rating or None) != detail.rating:
        components.act(lambda: curation.set_rating(svc, owner_id, detail.id, rating or None), "Rating saved")


def organise(owner_id: uuid.UUID, detail: ImageDetail, key: str) -> None:
    svc = services()
    with st.form(f"{key}.notes", border=False):
        tags = st.text_input("Tags", value=", ".join(detail.tags), help="Comma-separated")
        notes = st.text_area("Notes", value=detail.notes, height=80)
        if st.form_submit_button("Save tags and notes", icon=":material/save:"):

            def save() -> None:
                curation.set_tags(svc, owner_id, detail.id, parse_tags(tags or ""))
                curation.set_notes(svc, owner_id, detail.id, notes or "")

            components.act(save, "Saved")
    mine = {str(p.id): p.name for p in projects.projects(svc, owner_id)}
    sets = {str(c.id): c.name for c in projects.collections(svc, owner_id)}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        current = str(detail.project_id) if detail.project_id else ""
        options = ["", *mine]
        target = st.selectbox(
            "Project", options, index=options.index(current) if current in options else 0,
            format_func=lambda v: mine.get(v, "No project"), key=f"{key}.project",
        )  # fmt: skip
        if st.button("Move", key=f"{key}.move") and target != current:
            components.act(
                lambda: curation.move_to_project(
                    svc, owner_id, [detail.id], uuid.UUID(target) if target else None
                ),
                "Moved",
            )
        if sets:
            chosen = st.selectbox(
                "Collection", list(sets), format_func=sets.__getitem__, key=f"{key}.collection"
            )
            if st.button("Add", key=f"{key}.add"):
                components.act(
                    lambda: curation.add_to_collection(svc, owner_id, [detail.id], uuid.UUID(chosen)), "Added"
                )
    if detail.collections:
        st.caption("In " + ", ".join(components.escape(name) for _, name in detail.collections))


def comments(owner_id: uuid.UUID, detail: ImageDetail, key: str) -> None:
    for comment in detail.comments:
        author, when = components.escape(comment.author), components.ago(comment.created_at)
        st.markdown(f"**{author}** · {when}  \n{components.escape(comment.body)}")
    with st.form(f"{key}.comment", clear_on_submit=True, border=False):
        body = st.text_input("Add a comment", max_chars=2000)
        if st.form_submit_button("Comment", icon=":material/comment:"):
            components.act(
                lambda: curation.add_comment(services(), owner_id, detail.id, body or ""), "Comment added"
            )


def show(owner_id: uuid.UUID, image_id: uuid.UUID, *, in_dialog: bool = False) -> None:
    """The image with everything about it; a short message when it is not the caller's."""
    chosen = st.session_state.pop(_OPEN, None)
    if chosen:  # a node of the family tree was clicked
        st.switch_page(IMAGE_PAGE, query_params={"id": chosen})
    try:
        detail = details.image_detail(services(), owner_id, image_id)
    except NotFound as err:
        st.warning(str(err))
        return
    key = f"img.{'dlg' if in_dialog else 'page'}"
    if detail.deleted_at is not None:
        st.info("This image is in the trash: restore it from the Trash page.", icon=":material/delete:")
    picture, facts = st.columns([3, 2], gap="medium")
    with picture:
        st.image(detail.url, width="stretch")
        if in_dialog:
            st.page_link(
                IMAGE_PAGE,
                label="Open as a page",
                query_params={"id": str(detail.id)},
                icon=":material/open_in_new:",
            )
    with facts:
        metadata(detail)
        actions(owner_id, detail, key)
    iterate_actions.quick_actions(
        owner_id, detail.id, key=f"{key}.iter", parent_id=detail.parent.id if detail.parent else None
    )
    if not in_dialog:
        iterate_actions.started(owner_id)
    tabs = st.tabs(["Organise", "Lineage", "Share", "Comments", "Similar"])
    with tabs[0]:
        organise(owner_id, detail, key)
    with tabs[1]:
        related_strip([detail.parent] if detail.parent else [], "Made from", f"{key}.parent")
        related_strip(detail.children, "Made from this", f"{key}.children")
        family_tree(owner_id, detail, key)
    with tabs[2]:
        share_controls.panel(owner_id, ShareTarget.IMAGE, detail.id, key)
    with tabs[3]:
        comments(owner_id, detail, key)
    with tabs[4]:
        similar = details.similar_images(services(), owner_id, detail.id)
        related_strip([item for item, _ in similar], "Similar images", f"{key}.similar")
        if not similar:
            st.caption("No similar images yet.")
