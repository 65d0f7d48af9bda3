"""Welcome: what this installation is, and the way in."""

import streamlit as st

from studio.ui.shell import components
from studio.ui.shell.deps import services

st.title("the studio")
st.subheader("A self-hostable, multi-user AI image studio")
st.markdown(components.mode_summary(services().settings))
with st.container(horizontal=True):
    if st.button("Sign in", type="primary", icon=":material/login:"):
        st.switch_page("pages/sign_in.py")
    if st.button("Create an account", icon=":material/person_add:"):
        st.switch_page("pages/register.py")
