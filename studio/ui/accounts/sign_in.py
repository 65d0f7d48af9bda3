"""The sign-in steps as widget callbacks: they run before the page's script, so the run that follows a
successful sign-in already builds the signed-in navigation (see studio.ui.shell.session)."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.domain.accounts import Role
from studio.errors import StudioError
from studio.services.accounts import demo as demo_accounts
from studio.services.accounts import signin, two_factor
from studio.ui.shell import session
from studio.ui.shell.deps import services

LOGIN, PASSWORD, CODE = "sign_in.login", "sign_in.password", "sign_in.code"
_ERROR, _PENDING = "sign_in.error", "sign_in.pending"


def error() -> str | None:
    """The message of the last failed step, once."""
    message: str | None = st.session_state.pop(_ERROR, None)
    return message


def pending_code() -> bool:
    """A password matched and the account's two-factor code is due."""
    return _PENDING in st.session_state


def submit_password() -> None:
    login, password = st.session_state.get(LOGIN, ""), st.session_state.get(PASSWORD, "")
    st.session_state[PASSWORD] = ""  # never kept in session state longer than this callback
    try:
        outcome = signin.sign_in(services(), login, password, session.client_address())
    except StudioError as err:
        st.session_state[_ERROR] = str(err)
        return
    if outcome.needs_code:
        st.session_state[_PENDING] = (str(outcome.account.id), login)
        return
    session.complete_sign_in(outcome.account)


def submit_code() -> None:
    user_id, login = st.session_state[_PENDING]
    code = st.session_state.get(CODE, "")
    st.session_state[CODE] = ""
    try:
        account = two_factor.verify_sign_in(
            services(), uuid.UUID(user_id), login, code, session.client_address()
        )
    except StudioError as err:
        st.session_state[_ERROR] = str(err)
        return
    del st.session_state[_PENDING]
    session.complete_sign_in(account)


def cancel_code() -> None:
    st.session_state.pop(_PENDING, None)


def demo(role: Role) -> None:
    try:
        session.complete_sign_in(demo_accounts.sign_in_demo(services(), role))
    except StudioError as err:
        st.session_state[_ERROR] = str(err)
