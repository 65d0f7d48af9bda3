"""One image on its own page (`/image?id=...`): everything about it, for its owner only."""

import uuid

import streamlit as st

from studio.ui.library import image_view
from studio.ui.shell import session

account = session.require_account()
st.page_link("pages/gallery.py", label="Gallery", icon=":material/arrow_back:")
raw = st.query_params.get("id", "")
try:
    image_id = uuid.UUID(raw)
except ValueError:
    st.warning("No such image.")
    st.stop()
image_view.show(account.id, image_id)
