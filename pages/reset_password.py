"""Reset password: the link from the mail sets a new password and signs the account out everywhere."""

import streamlit as st

from studio.domain.accounts import PASSWORD_POLICY
from studio.errors import StudioError
from studio.services.accounts import credentials
from studio.ui.shell import components
from studio.ui.shell.deps import services

st.title("Choose a new password", anchor=False)
token = st.query_params.get("token", "")
if st.session_state.get("reset.done"):
    st.success("Your password is changed and every session was signed out. Sign in with the new password.")
    st.page_link("pages/sign_in.py", label="Sign in", icon=":material/login:")
    st.stop()
try:
    credentials.check_reset_token(services(), token)
except StudioError as err:
    st.error(str(err), icon=":material/link_off:")
    st.page_link("pages/forgot_password.py", label="Ask for a new link", icon=":material/lock_reset:")
    st.stop()

with st.form("reset.form"):
    password = st.text_input(
        "New password", type="password", max_chars=200, autocomplete="new-password", help=PASSWORD_POLICY
    )
    repeat = st.text_input("Repeat it", type="password", max_chars=200, autocomplete="new-password")
    submitted = st.form_submit_button("Set the new password", type="primary")
if submitted:
    try:
        credentials.reset_password(services(), token, password, repeat)
    except StudioError as err:
        components.refusal(err)
    else:
        st.session_state["reset.done"] = True
        st.query_params.clear()
        st.rerun()
