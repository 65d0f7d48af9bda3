"""Verify email: the link from a verification or email-change mail, signed in or not."""

import streamlit as st

from studio.errors import StudioError
from studio.services.accounts import signup
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

st.title("Confirm your email address", anchor=False)
token = st.query_params.get("token", "")
done = st.session_state.get("verify.done")
if token and not done:
    try:
        account = signup.verify_email(services(), token)
    except StudioError as err:
        st.error(str(err), icon=":material/link_off:")
        st.stop()
    done = st.session_state["verify.done"] = account.email
    st.query_params.clear()  # the token is used up; keep it out of the address bar and history
if not done:
    st.error("This page needs the link from the mail we sent you.", icon=":material/link_off:")
    st.stop()
st.success(f"**{components.escape(done)}** is confirmed. Thank you!", icon=":material/verified:")
if session.account() is None:
    st.page_link("pages/sign_in.py", label="Sign in", icon=":material/login:")
else:
    st.page_link("pages/generate.py", label="Start generating", icon=":material/auto_awesome:")
