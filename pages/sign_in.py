"""Sign in with a username or email and a password (then a two-factor code when the account has one)."""

import streamlit as st

from studio.domain.accounts import Role
from studio.ui.accounts import sign_in
from studio.ui.shell import session
from studio.ui.shell.deps import services

st.title("Sign in", anchor=False)
problem = sign_in.error()
if problem:
    st.error(problem, icon=":material/error:")

if sign_in.pending_code():
    with st.form("sign_in.code_form"):
        st.text_input(
            "Code from your authenticator app, or a recovery code",
            key=sign_in.CODE,
            max_chars=32,
            autocomplete="one-time-code",
        )
        st.form_submit_button("Verify", type="primary", on_click=sign_in.submit_code)
    st.button("Use another account", on_click=sign_in.cancel_code)
    st.stop()

with st.form("sign_in.form"):
    st.text_input("Username or email", key=sign_in.LOGIN, max_chars=320, autocomplete="username")
    st.text_input(
        "Password", key=sign_in.PASSWORD, type="password", max_chars=200, autocomplete="current-password"
    )
    st.form_submit_button(
        "Sign in", type="primary", icon=":material/login:", on_click=sign_in.submit_password
    )

for provider in session.oidc_providers():
    label = f"Continue with {provider.title()}" if provider else "Continue with single sign-on"
    if st.button(label, icon=":material/key:", key=f"sign_in.oidc.{provider}"):
        st.login(provider or None)

links = st.columns(2)
links[0].page_link("pages/register.py", label="Create an account", icon=":material/person_add:")
links[1].page_link("pages/forgot_password.py", label="Forgot your password?", icon=":material/lock_reset:")

if services().settings.dev_sign_in_enabled:
    st.divider()
    st.caption("Development sign-in: this embedded installation also lets you continue as a demo account.")
    columns = st.columns(2)
    columns[0].button(
        "Continue as demo user",
        icon=":material/person:",
        width="stretch",
        on_click=sign_in.demo,
        args=(Role.USER,),
    )
    columns[1].button(
        "Continue as demo admin",
        icon=":material/shield_person:",
        width="stretch",
        on_click=sign_in.demo,
        args=(Role.ADMIN,),
    )
