"""Account: the signed-in person's details and this installation (the studio opens on Generate)."""

import streamlit as st

from studio.ui import components, session
from studio.ui.deps import services

account = session.require_account()
st.title(f"Welcome, {components.escape(account.name)}", anchor=False)
with st.container(border=True):
    st.markdown(f"**{components.escape(account.name)}** · {components.escape(account.email)}")
    st.caption(f"Role: {account.role.value} · member since {account.created_at:%d %B %Y}")
st.markdown(components.mode_summary(services().settings))
