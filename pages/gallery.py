"""Gallery: every image, searchable and filterable, a page at a time; the position is in the URL."""

import streamlit as st

from studio.errors import InvalidInput, StudioError
from studio.services.generation import catalogue
from studio.services.library import gallery as library
from studio.services.library import projects
from studio.ui.library import gallery, gallery_filters
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Gallery", anchor=False)
used = library.storage_used(services(), account.id)
with st.container(horizontal=True, vertical_alignment="center"):
    st.caption(f":material/cloud: {used / 1_000_000:,.1f} MB stored (the trash included)")
    st.page_link("pages/edit.py", label="Upload an image", icon=":material/upload:",
                 help="Bring in a PNG, JPEG or WebP to edit, upscale or start from")  # fmt: skip

project_names = {str(p.id): p.name for p in projects.projects(services(), account.id)}
collection_names = {str(c.id): c.name for c in projects.collections(services(), account.id)}
search, sort, view, size = gallery_filters.search_and_sort()
values = gallery_filters.sidebar_filters(
    library.models_used(services(), account.id), project_names, collection_names,
    library.tags_used(services(), account.id),
)  # fmt: skip
chosen = gallery_filters.gallery_filter(search, values)
position, number = gallery_filters.cursor()
try:
    page = library.gallery_page(services(), account.id, chosen, sort, position, size)
except InvalidInput as err:  # a stale or edited position: start over
    st.info(str(err))
    gallery_filters.first_page()
    page, number = library.gallery_page(services(), account.id, chosen, sort, None, size), 1
except StudioError as err:
    st.error(str(err))
    st.stop()

gallery.pending_download(account.id)
if not page.items:
    st.info("No images match." if chosen.active else "No images yet: the ones you generate appear here.")
else:
    selecting = gallery.bulk_actions(account.id, page.items, project_names, collection_names)
    models = catalogue.enabled_models(services()) if view == "list" else []  # named in list rows
    gallery.show(page.items, view, {m.endpoint_id: m.name for m in models}, selecting)
gallery_filters.pager(page.prev_cursor, page.next_cursor, number, len(page.items))
gallery.lightbox(account.id)
