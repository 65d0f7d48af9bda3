"""Who is signed in, kept per browser session and checked against the database on every run."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.domain.accounts import Account
from studio.services import accounts
from studio.ui.deps import services

_USER_ID = "user_id"
_ACCOUNT = "account"


def restore() -> Account | None:
    """Reload the signed-in account (Home.py calls this first, before building the navigation)."""
    raw = st.session_state.get(_USER_ID)
    account = accounts.get_account(services().uow(), uuid.UUID(raw)) if raw else None
    if account is None:
        st.session_state.pop(_USER_ID, None)
    st.session_state[_ACCOUNT] = account
    return account


def sign_in(account: Account) -> None:
    st.session_state[_USER_ID] = str(account.id)
    st.session_state[_ACCOUNT] = account


def sign_out() -> None:
    st.session_state.pop(_USER_ID, None)
    st.session_state[_ACCOUNT] = None


def account() -> Account | None:
    """The account restored in this run."""
    current: Account | None = st.session_state.get(_ACCOUNT)
    return current


def require_account() -> Account:
    """The signed-in account, or stop the page."""
    current = account()
    if current is None:
        st.warning("Sign in to see this page.")
        st.stop()
    return current


def require_admin() -> Account:
    """The signed-in admin, or stop the page: navigation hides admin pages, this refuses them."""
    current = account()
    if current is None or not current.is_admin:
        st.error("This page is for administrators.")
        st.stop()
    return current
