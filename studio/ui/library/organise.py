"""Projects and collections pages: the list of cards, the create form, and one opened for editing."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable

import streamlit as st

from studio.domain.parameters import Request
from studio.domain.sharing import ShareTarget
from studio.errors import InvalidInput, StudioError
from studio.services.generation import catalogue
from studio.services.library import downloads, projects, sharing
from studio.services.library.projects import CollectionView, Member, ProjectView
from studio.services.prompts import presets
from studio.ui.generation import generate_form
from studio.ui.library import gallery, share_controls
from studio.ui.shell import components
from studio.ui.shell.deps import services

OPEN = "id"  # ?id=<project or collection id>


def opened() -> uuid.UUID | None:
    try:
        return uuid.UUID(st.query_params.get(OPEN, ""))
    except ValueError:
        return None


def _open(item_id: uuid.UUID | None) -> None:
    if item_id is None:
        st.query_params.pop(OPEN, None)
    else:
        st.query_params[OPEN] = str(item_id)


def close() -> None:
    _open(None)


def cards(items: list[ProjectView] | list[CollectionView], noun: str) -> None:
    if not items:
        st.info(f"No {noun}s yet.")
        return
    with st.grid("auto", min_column_width=220, border=True):
        for item in items:
            with st.container(gap="xsmall"):
                if item.cover_url:
                    st.image(item.cover_url, width="stretch")
                st.markdown(f"**{components.escape(item.name)}**")
                st.caption(f"{item.image_count} image{'s' if item.image_count != 1 else ''}")
                st.button(
                    "Open",
                    key=f"{noun}.open.{item.id}",
                    on_click=_open,
                    args=(item.id,),
                    icon=":material/open_in_new:",
                )


def create_form(noun: str, create: Callable[[str, str], uuid.UUID]) -> None:
    with (
        st.expander(f"New {noun}", icon=":material/add:"),
        st.form(f"{noun}.new", clear_on_submit=True, border=False),
    ):
        name = st.text_input("Name", max_chars=200)
        description = st.text_area("Description", max_chars=2000, height=80)
        if st.form_submit_button(f"Create {noun}", icon=":material/add:"):
            try:
                new_id = create(name or "", description or "")
            except StudioError as err:
                st.error(str(err))
            else:
                _open(new_id)
                st.rerun()


def details_form(key: str, name: str, description: str, save: Callable[[str, str], None]) -> None:
    with st.form(f"{key}.edit", border=False):
        new_name = st.text_input("Name", value=name, max_chars=200)
        new_description = st.text_area("Description", value=description, max_chars=2000, height=80)
        if st.form_submit_button("Save", icon=":material/save:"):
            components.act(lambda: save(new_name or "", new_description or ""), "Saved")


def back(noun: str) -> None:
    st.button(f"All {noun}s", icon=":material/arrow_back:", on_click=_open, args=(None,), type="tertiary")


def project_defaults(owner_id: uuid.UUID, found: ProjectView) -> None:
    """The model and settings Generate starts from in this project, and the way to generate in it."""
    models = catalogue.generators(services())
    by_id = {m.endpoint_id: m for m in models}
    saved = {str(preset.id): preset for preset in presets.presets(services(), owner_id)}
    if saved:
        with st.container(horizontal=True, vertical_alignment="bottom"):
            chosen_preset = st.selectbox(
                "Defaults from a preset", list(saved), index=None, format_func=lambda v: saved[v].name,
                placeholder="Pick one of your presets", key="project.preset",
            )  # fmt: skip
            if st.button("Use the preset", key="project.preset.use", disabled=chosen_preset is None):
                preset = saved[str(chosen_preset)]
                defaults = Request(
                    preset.request.model, "", "", preset.request.style, dict(preset.request.params)
                )
                components.act(
                    lambda: projects.update_project(services(), owner_id, found.id, defaults=defaults),
                    f"Defaults from the preset {preset.name}",
                )
    with st.form("project.defaults", border=False):
        options = ["", *by_id]
        current = options.index(found.default_model) if found.default_model in options else 0
        model = st.selectbox(
            "Default model", options, index=current,
            format_func=lambda v: by_id[v].name if v in by_id else "None (use my own defaults)",
        )  # fmt: skip
        params = st.text_area(
            "Default parameters (JSON)", value=json.dumps(found.default_params, indent=1), height=100,
            help='For example {"num_inference_steps": 4}; checked against the model',
        )  # fmt: skip
        if st.form_submit_button("Save defaults", icon=":material/tune:"):

            def save() -> None:
                try:
                    parsed = json.loads(params or "{}")
                except ValueError as err:
                    raise InvalidInput(f"The parameters are not JSON: {err}") from None
                if not isinstance(parsed, dict):
                    raise InvalidInput("The parameters are a JSON object: {...}.")
                chosen = Request(str(model), "", "", "None", parsed) if model else None
                projects.update_project(
                    services(), owner_id, found.id, defaults=chosen, clear_defaults=not model
                )

            components.act(save, "Defaults saved")
    if st.button(
        "Generate in this project", icon=":material/auto_awesome:", type="primary", disabled=found.archived
    ):
        spec = by_id.get(found.default_model or "")
        generate_form.use_project(found.id, found.name, found.defaults, spec)
        st.switch_page("pages/generate.py")


def project_actions(owner_id: uuid.UUID, found: ProjectView) -> None:
    svc = services()
    with st.container(horizontal=True):
        label = "Unarchive" if found.archived else "Archive"
        if st.button(label, icon=":material/archive:"):
            components.act(
                lambda: projects.archive_project(svc, owner_id, found.id, not found.archived), f"{label}d"
            )
        if st.button("Duplicate", icon=":material/content_copy:"):
            components.act(lambda: _open(projects.duplicate_project(svc, owner_id, found.id)), "Duplicated")
        if st.button("Export ZIP", icon=":material/folder_zip:", disabled=found.image_count == 0):
            try:
                made = downloads.prepare_zip(
                    svc, owner_id, projects.project_image_ids(svc, owner_id, found.id)
                )
            except StudioError as err:
                st.error(str(err))
            else:
                gallery.remember_download(made)
        st.page_link(
            "pages/gallery.py",
            label="See in the gallery",
            query_params={"project": found.name},
            icon=":material/photo_library:",
        )
    gallery.pending_download(owner_id)


def cover_picker(
    key: str, thumbs: list[tuple[uuid.UUID, str]], make_cover: Callable[[uuid.UUID], None]
) -> None:
    """The first images (id, thumbnail URL) with a button to make one the cover."""
    if not thumbs:
        return
    st.caption("Pick a cover")
    with st.grid("auto", min_column_width=130, gap="small"):
        for image_id, thumb_url in thumbs[:12]:
            with st.container(gap="xsmall"):
                st.image(thumb_url, width="stretch")
                if st.button("Cover", key=f"{key}.cover.{image_id}", type="tertiary"):
                    components.act(functools.partial(make_cover, image_id), "Cover set")


def member_row(owner_id: uuid.UUID, collection_id: uuid.UUID, member: Member, index: int, total: int) -> None:
    """One image of a collection: move it up or down, make it the cover, or take it out."""
    svc = services()
    with st.container(horizontal=True, vertical_alignment="center", border=True):
        st.image(member.thumb_url, width=96)
        st.markdown(components.escape(components.excerpt(member.prompt, 120)) or "*(no prompt)*")
        for label, icon, step in (
            ("Up", ":material/arrow_upward:", -1),
            ("Down", ":material/arrow_downward:", 1),
        ):
            blocked = not 0 <= index + step < total
            if st.button(label, key=f"col.{label}.{member.id}", icon=icon, disabled=blocked):
                components.act(
                    functools.partial(projects.move_member, svc, owner_id, collection_id, member.id, step),
                    "Moved",
                )
        if st.button("Cover", key=f"col.cover.{member.id}", type="tertiary"):
            cover = functools.partial(projects.update_collection, cover_image_id=member.id)
            components.act(functools.partial(cover, svc, owner_id, collection_id), "Cover set")
        if st.button("Remove", key=f"col.remove.{member.id}", type="tertiary", icon=":material/close:"):
            remove = functools.partial(
                projects.remove_from_collection, svc, owner_id, collection_id, [member.id]
            )
            components.act(remove, "Removed")


def delete_collection(owner_id: uuid.UUID, collection_id: uuid.UUID) -> None:
    def delete() -> None:
        projects.delete_collection(services(), owner_id, collection_id)
        close()

    if st.button("Delete collection", icon=":material/delete:", help="The images stay in your library"):
        components.act(delete, "Deleted")


def public_toggle(owner_id: uuid.UUID, found: CollectionView) -> None:
    public = st.toggle("Public", value=found.is_public, help="Public: one lasting link without a password")
    if public != found.is_public:
        components.act(lambda: sharing.set_collection_public(services(), owner_id, found.id, public), "Saved")
    if found.is_public:
        lasting = [
            link
            for link in sharing.shares_of(services(), owner_id, found.id)
            if link.active and link.expires_at is None and not link.has_password
        ]
        if lasting:
            st.code(lasting[0].url, language=None)


def share(owner_id: uuid.UUID, target: ShareTarget, target_id: uuid.UUID) -> None:
    with st.expander("Share", icon=":material/share:"):
        share_controls.panel(owner_id, target, target_id, f"{target.value}.share")
