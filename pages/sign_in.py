"""Sign in. Until accounts exist, embedded mode offers demo accounts (the development sign-in)."""

import streamlit as st

from studio.domain.accounts import Role
from studio.errors import StudioError
from studio.services import dev_accounts
from studio.ui import session
from studio.ui.deps import services

st.title("Sign in")
settings = services().settings
if not settings.dev_sign_in_enabled:
    st.info("Sign-in is not available on this server yet: no accounts have been set up.")
    st.stop()

st.caption("Development sign-in: this embedded installation lets you continue as a demo account.")
columns = st.columns(2)
choice = None
if columns[0].button("Continue as demo user", icon=":material/person:", width="stretch"):
    choice = Role.USER
if columns[1].button("Continue as demo admin", icon=":material/shield_person:", width="stretch"):
    choice = Role.ADMIN
if choice is not None:
    try:
        session.sign_in(dev_accounts.sign_in_demo(services().uow(), settings, choice))
    except StudioError as err:
        st.error(str(err))
    else:
        st.rerun()
