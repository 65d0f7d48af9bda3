"""Forgot password: mail a one-time reset link. The answer is the same whether the address has an account."""

import streamlit as st

from studio.errors import StudioError
from studio.services.accounts import credentials
from studio.ui.shell import components
from studio.ui.shell.deps import services

st.title("Reset your password", anchor=False)
with st.form("forgot.form"):
    email = st.text_input("The email address of your account", max_chars=320, autocomplete="email")
    submitted = st.form_submit_button("Send me a link", type="primary", icon=":material/send:")
if submitted:
    try:
        credentials.request_password_reset(services(), email)
    except StudioError as err:
        components.refusal(err)
    else:
        st.success(
            "If that address has an account, a link to reset its password is on its way. "
            "It works once, for an hour. No mail after a few minutes? Check your spam folder.",
            icon=":material/mark_email_unread:",
        )
st.page_link("pages/sign_in.py", label="Back to sign in", icon=":material/login:")
