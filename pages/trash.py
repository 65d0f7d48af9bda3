"""Trash: images thrown away, restored or erased for good; erased automatically after the retention days."""

import streamlit as st

from studio.errors import StudioError
from studio.services import trash
from studio.ui import components, session
from studio.ui.deps import services

account = session.require_account()
st.title("Trash", anchor=False)
days = services().settings.trash_retention_days
st.caption(f"Images stay here {days} days, then they and their files are erased for good.")
items = trash.trashed(services(), account.id)
if not items:
    st.info("The trash is empty.")
    st.stop()

chosen = [item.id for item in items if st.session_state.get(f"trash.sel.{item.id}")]
with st.container(horizontal=True):
    restore = st.button("Restore selected", icon=":material/restore_from_trash:", disabled=not chosen)
    purge = st.button("Delete selected for good", icon=":material/delete_forever:", disabled=not chosen)
    empty = st.button("Empty the trash", icon=":material/delete_sweep:", type="primary")
try:
    if restore:
        components.flash_and_rerun(f"Restored {trash.restore(services(), account.id, chosen)} images")
    elif purge:
        components.flash_and_rerun(f"Erased {trash.purge(services(), account.id, chosen)} images")
    elif empty:
        components.flash_and_rerun(f"Erased {trash.empty_trash(services(), account.id)} images")
except StudioError as err:
    st.error(str(err))

with st.grid("auto", min_column_width=180, border=True):
    for item in items:
        with st.container(gap="xsmall"):
            st.image(item.thumb_url, caption=components.excerpt(item.prompt, 60), width="stretch")
            st.checkbox(f"Select · erased {item.purge_at:%d %b}", key=f"trash.sel.{item.id}")
