"""Collections: hand-picked images in the order you give them, with a cover; private, shared or public."""

import functools

import streamlit as st

from studio.domain.sharing import ShareTarget
from studio.errors import NotFound
from studio.services.library import projects
from studio.ui.library import organise
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
owner = account.id
chosen = organise.opened()
if chosen is None:
    st.title("Collections", anchor=False)
    organise.create_form(
        "collection", lambda name, text: projects.create_collection(services(), owner, name, text)
    )
    organise.cards(projects.collections(services(), owner), "collection")
    st.stop()

organise.back("collection")
try:
    found = projects.collection(services(), owner, chosen)
except NotFound as err:
    st.warning(str(err))
    st.stop()
st.title(found.name, anchor=False)
members = projects.members(services(), owner, found.id)
left, right = st.columns([3, 2], gap="large")
with left:
    for index, member in enumerate(members):
        organise.member_row(owner, found.id, member, index, len(members))
    if not members:
        st.info("Add images from the gallery (select them, then Collection).")
with right:
    if found.cover_url:
        st.image(found.cover_url, caption="Cover", width="stretch")
    organise.details_form(
        "collection",
        found.name,
        found.description,
        functools.partial(projects.rename_collection, services(), owner, found.id),
    )
    organise.public_toggle(owner, found)
    organise.share(owner, ShareTarget.COLLECTION, found.id)
    organise.delete_collection(owner, found.id)
