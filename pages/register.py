"""Create an account: email, username, name and a password; a verification link is mailed."""

import streamlit as st

from studio.domain.accounts import PASSWORD_POLICY
from studio.errors import StudioError
from studio.services.accounts import signup
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

st.title("Create your account", anchor=False)
st.caption("Free plan: 100 images a month, no card needed.")

with st.form("register.form"):
    email = st.text_input("Email", max_chars=320, autocomplete="email")
    username = st.text_input(
        "Username", max_chars=64, autocomplete="username", help="3–32 letters, digits, . _ -"
    )
    name = st.text_input("Name", max_chars=10_000, autocomplete="name")
    password = st.text_input(
        "Password", type="password", max_chars=200, autocomplete="new-password", help=PASSWORD_POLICY
    )
    repeat = st.text_input("Repeat the password", type="password", max_chars=200, autocomplete="new-password")
    submitted = st.form_submit_button("Create account", type="primary", icon=":material/person_add:")

if submitted:
    try:
        account = signup.register(
            services(), email=email, username=username, name=name, password=password, repeat=repeat,
            address=session.client_address(),
        )  # fmt: skip
    except StudioError as err:
        components.refusal(err)
    else:
        name, email = components.escape(account.name), components.escape(account.email)
        st.success(
            f"Welcome, {name}! We sent a link to **{email}**: open it to confirm your address, then sign in.",
            icon=":material/mark_email_unread:",
        )
        if services().settings.mail_mode == "outbox":
            st.caption(
                "No mail server is configured here: an administrator finds the mail on the System page."
            )
st.page_link("pages/sign_in.py", label="Already have an account? Sign in", icon=":material/login:")
