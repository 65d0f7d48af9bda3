"""Trash: images thrown away, restored or erased for good; erased automatically after the retention days."""

import streamlit as st

from studio.services.library import trash
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

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
if restore:
    components.act(lambda: trash.restore(services(), account.id, chosen), lambda n: f"Restored {n} images")
elif purge:
    components.act(lambda: trash.purge(services(), account.id, chosen), lambda n: f"Erased {n} images")
elif empty:
    components.act(lambda: trash.empty_trash(services(), account.id), lambda n: f"Erased {n} images")

with st.grid("auto", min_column_width=180, border=True):
    for item in items:
        with st.container(gap="xsmall"):
            st.image(
                item.thumb_url,
                caption=components.escape(components.excerpt(item.prompt, 60)),
                width="stretch",
            )
            st.checkbox(f"Select · erased {item.purge_at:%d %b}", key=f"trash.sel.{item.id}")
