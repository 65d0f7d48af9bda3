"""Who is signed in: streamlit-authenticator's cookie and state, backed by the users table, and checked
against the database on every run.

Home.py calls `restore()` first in every run, before `st.navigation`. It builds the run's one
`Authenticate`, whose cookie writer (`studio.ui.shell.cookies`) renders nothing unless the cookie changes. Its
credentials dict holds a `UserDirectory`: the users table read one row at a time, so a run never loads
every user.

Three checks decide whether a session is still signed in:
- the live session carries the user's `session_version`; a bump (sign out everywhere, a new password, a
  disabled account) ends it at its next run;
- a cookie restored on a reload must have been issued after the last bump (`sessions_valid_from`);
- a session idle for SESSION_IDLE_MINUTES ends. The cookie lives that long and is refreshed while the
  session is used, so an idle browser's cookie expires on its own.

streamlit-authenticator's traps (see the reference): never `st.rerun()` in the run that writes or deletes
its cookie. Sign-in completes in a form callback, so the run that follows already builds the signed-in
navigation and writes the cookie; sign-out happens in Home.py before `st.navigation`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit.errors import StreamlitSecretNotFoundError

from studio.domain import network
from studio.domain.accounts import Account
from studio.errors import StudioError
from studio.services.accounts import sessions, sso
from studio.ui.shell import cookies
from studio.ui.shell.deps import services

cookies.install()

COOKIE_NAME = "studio_session"
_STATE = "studio.session"
_AUTH = "studio.authenticator"
_NOTICE = "studio.session_notice"
_OIDC_REFUSED = "studio.oidc_refused"
_ACCOUNT = "account"
_USER_ID = "user_id"
_REFRESH_EVERY = 15 * 60  # seconds between cookie refreshes while a session is used


class UserDirectory(dict[str, dict[str, Any]]):
    """streamlit-authenticator's `credentials["usernames"]`, filled from the users table on lookup.

    The library looks users up by name (`in`, `[]`, `.get`); each lookup reads one row by its unique
    index. It would iterate all users only in widgets the studio does not use (its sign-up and "forgot
    username" forms, the concurrent-user limit).
    """

    def __init__(self, load: Callable[[str], dict[str, Any] | None]) -> None:
        super().__init__()
        self._load = load

    def __missing__(self, username: str) -> dict[str, Any]:
        entry = self._load(username)
        if entry is None:
            raise KeyError(username)
        self[username] = entry
        return entry

    def __contains__(self, username: object) -> bool:
        if not isinstance(username, str):
            return False
        try:
            self[username]
        except KeyError:
            return False
        return True

    def get(self, username: str, default: Any = None) -> Any:
        try:
            return self[username]
        except KeyError:
            return default


@dataclass(frozen=True)
class _Session:
    user_id: uuid.UUID
    version: int
    last_seen: float
    cookie_at: float  # when this session last wrote its cookie; 0: not yet
    via: Literal["password", "oidc"] = "password"


def cookie_key(secret: str) -> str:
    """The key that signs session cookies, derived from SECRET_KEY (a new SECRET_KEY signs everyone out)."""
    return hmac.new(secret.encode(), b"studio session cookie", hashlib.sha256).hexdigest()


def idle_seconds() -> float:
    return float(services().settings.session_idle_minutes * 60)


def decode_cookie(raw: str, key: str, lifetime: float, now: float) -> tuple[str, datetime] | None:
    """The username and issue time of a valid, unexpired session cookie; None for anything else."""
    try:
        token = jwt.decode(raw, key, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None
    username, expires = token.get("username"), token.get("exp_date")
    if not isinstance(username, str) or not isinstance(expires, int | float) or expires <= now:
        return None
    return username, datetime.fromtimestamp(expires - lifetime, UTC)


def _authenticator() -> Any:
    settings = services().settings
    credentials: dict[str, Any] = {"usernames": {}}
    auth = stauth.Authenticate(
        credentials,
        COOKIE_NAME,
        cookie_key(services().secret),
        cookie_expiry_days=settings.session_idle_minutes / (24 * 60),
        auto_hash=False,
        login_sleep_time=0,
    )
    # The library keeps this dict and looks users up in it; from here on it reads the users table.
    credentials["usernames"] = UserDirectory(lambda name: sessions.credential_entry(services(), name))
    return auth


def restore() -> Account | None:
    """Reload the signed-in account (Home.py calls this first, before building the navigation)."""
    auth = _authenticator()
    st.session_state[_AUTH] = auth
    now = time.time()
    state: _Session | None = st.session_state.get(_STATE) or _from_oidc(now) or _from_cookie(auth, now)
    account = None
    if state is not None:
        account = sessions.session_account(services(), state.user_id, state.version)
        if account is None:
            _end(
                auth,
                "You were signed out: a new password, “sign out everywhere” or a closed account ended it.",
            )
        elif now - state.last_seen > idle_seconds():
            account = None
            _end(auth, "You were signed out after a while without activity. Sign in again to continue.")
        else:
            if state.via == "password" and now - state.cookie_at > min(_REFRESH_EVERY, idle_seconds() / 4):
                auth.cookie_controller.set_cookie()
                state = replace(state, cookie_at=now)
            st.session_state[_STATE] = replace(state, last_seen=now)
            st.session_state[_USER_ID] = str(account.id)
    st.session_state[_ACCOUNT] = account
    return account


def _from_cookie(auth: Any, now: float) -> _Session | None:
    if st.session_state.get("logout"):  # streamlit-authenticator's flag: this browser session signed out
        return None
    # Not .get(): under AppTest the cookies are a mock whose .get answers anything.
    raw = st.context.cookies[COOKIE_NAME] if COOKIE_NAME in st.context.cookies else None  # noqa: SIM401
    if not isinstance(raw, str) or not raw:
        return None
    decoded = decode_cookie(raw, cookie_key(services().secret), idle_seconds(), now)
    account = sessions.cookie_account(services(), *decoded) if decoded else None
    if account is None or decoded is None:
        auth.cookie_controller.delete_cookie()
        return None
    auth.login(location="unrendered")  # the library restores its state from the same cookie
    if not st.session_state.get("authentication_status"):
        return None
    sessions.record_sign_in(services(), account.username)
    return _Session(account.id, account.session_version, last_seen=now, cookie_at=decoded[1].timestamp())


def oidc_providers() -> list[str]:
    """The single sign-on providers configured in `.streamlit/secrets.toml` ([auth.<name>] sections, or
    [auth] alone for one unnamed provider); none when it has no [auth]."""
    try:
        section = st.secrets.get("auth")
    except StreamlitSecretNotFoundError:
        return []
    if not section:
        return []
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return named or ([""] if "client_id" in section else [])


def _from_oidc(now: float) -> _Session | None:
    """A person signed in through st.login: their account, found, linked or created."""
    if not st.user.get("is_logged_in") or st.session_state.get(_OIDC_REFUSED):
        return None
    user = st.user
    try:
        account = sso.oidc_account(
            services(),
            subject=f"{user.get('iss', '')}|{user.get('sub', '')}"[:255],
            email=str(user.get("email") or ""),
            email_verified=user.get("email_verified") is True,
            name=str(user.get("name") or ""),
        )
    except StudioError as err:
        st.session_state[_OIDC_REFUSED] = True
        st.session_state[_NOTICE] = str(err)
        return None
    issued = user.get("iat")
    issued_at = datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else None
    if not sessions.oidc_session_valid(services(), account.id, issued_at):
        st.logout()  # the provider's sign-in predates "sign out everywhere": ask for a fresh one
        return None
    return _Session(account.id, account.session_version, last_seen=now, cookie_at=now, via="oidc")


def complete_sign_in(account: Account) -> None:
    """Sign `account` in (its password, and code if any, already checked). Call it from a widget callback:
    the run that follows builds the signed-in navigation and writes the cookie."""
    auth = st.session_state[_AUTH]
    st.session_state["logout"] = None
    auth.authentication_controller.login(token={"username": account.username})
    sessions.record_sign_in(services(), account.username)
    st.session_state[_STATE] = _Session(account.id, account.session_version, time.time(), cookie_at=0.0)
    st.session_state[_ACCOUNT] = account
    st.session_state.pop(_NOTICE, None)


def keep_session(account: Account) -> None:
    """After this session's own password change: keep it signed in on the new session version."""
    state: _Session | None = st.session_state.get(_STATE)
    if state is not None:
        if state.via == "password":  # in this run: a reload may come before any other run
            st.session_state[_AUTH].cookie_controller.set_cookie()
        st.session_state[_STATE] = replace(state, version=account.session_version, cookie_at=time.time())


def sign_out() -> None:
    """End this browser session and delete its cookie (call it in Home.py, before st.navigation)."""
    _end(st.session_state[_AUTH], None)


def _end(auth: Any, notice: str | None) -> None:
    state: _Session | None = st.session_state.get(_STATE)
    if state is not None and state.via == "oidc":
        st.logout()  # Streamlit's own identity cookie, then a fresh session
    if st.session_state.get("authentication_status"):
        auth.logout(location="unrendered")  # deletes the cookie and the library's state
    elif COOKIE_NAME in st.context.cookies:
        auth.cookie_controller.delete_cookie()
    st.session_state["logout"] = True
    for key in (_STATE, _USER_ID):
        st.session_state.pop(key, None)
    st.session_state[_ACCOUNT] = None
    if notice:
        st.session_state[_NOTICE] = notice


def notice() -> str | None:
    """Why this session was just signed out, once."""
    message: str | None = st.session_state.pop(_NOTICE, None)
    return message


def client_address() -> str | None:
    """The client's address, for counting failed sign-ins and rate limits (None on localhost): the peer
    of this session's websocket, or, when that is a trusted proxy (TRUSTED_PROXIES), the client its
    X-Forwarded-For names."""
    forwarded = st.context.headers.get("X-Forwarded-For")
    return network.client_address(st.context.ip_address, forwarded, services().settings.proxies)


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
