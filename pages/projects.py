"""Projects: images with the model and settings Generate starts from; archive, copy, export, share."""

import streamlit as st

from studio.domain.library import GalleryFilter
from studio.domain.sharing import ShareTarget
from studio.errors import NotFound
from studio.services.library import gallery, projects
from studio.ui.library import organise
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
owner = account.id
chosen = organise.opened()
if chosen is None:
    st.title("Projects", anchor=False)
    organise.create_form("project", lambda name, text: projects.create_project(services(), owner, name, text))
    show_archived = st.toggle("Show archived projects")
    organise.cards(projects.projects(services(), owner, archived=show_archived), "project")
    st.stop()

try:
    found = projects.project(services(), owner, chosen)
except NotFound as err:
    st.warning(str(err))
    organise.back("project")
    st.stop()
organise.back("project")
st.title(found.name, anchor=False)
st.caption(f"{found.image_count} images{' · archived' if found.archived else ''}")
left, right = st.columns([3, 2], gap="large")
with left:
    organise.details_form(
        "project", found.name, found.description,
        lambda name, text: projects.update_project(services(), owner, found.id, name=name, description=text),
    )  # fmt: skip
    organise.project_actions(owner, found)
    page = gallery.gallery_page(services(), owner, GalleryFilter(project_id=found.id), page_size=24)
    organise.cover_picker(
        "project", [(item.id, item.thumb_url) for item in page.items],
        lambda image_id: projects.update_project(services(), owner, found.id, cover_image_id=image_id),
    )  # fmt: skip
with right:
    if found.cover_url:
        st.image(found.cover_url, caption="Cover", width="stretch")
    organise.project_defaults(owner, found)
    organise.share(owner, ShareTarget.PROJECT, found.id)
