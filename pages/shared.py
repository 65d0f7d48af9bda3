"""A shared image, project or collection (`/s?t=<token>`): no sign-in, only what the link shares."""

import streamlit as st

from studio.ui.library import share_controls

token = st.query_params.get("t", "")
view = share_controls.open_link(token)
if view is not None:
    share_controls.shared(view)
st.divider()
st.caption("Shared from the studio.")
