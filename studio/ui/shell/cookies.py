"""The session cookie, written in the browser by one line of script, and only when it changes.

streamlit-authenticator reads its cookie on the server (`st.context.cookies`) and writes and deletes it
through extra_streamlit_components' `CookieManager`: a custom component (an iframe with its own script
bundle and stylesheet, 138 KB that Streamlit serves uncached) rendered in every run, whose first answer
asks every new session for a second full run. Without it the first gallery view in Chromium went from
~3.2 s to ~1.7 s (bench/gallery_browser.py). The studio hands the library `ScriptCookies` instead: it
renders nothing until a cookie changes, then one `st.html` script that sets `document.cookie`, with no
iframe and no rerun.

`install()` makes the library use it (Home.py's first import of `studio.ui.shell.session` calls it).
"""

from __future__ import annotations

import json
import re
import types
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import streamlit as st
import streamlit_authenticator.models.cookie_model as cookie_model

_HIDDEN = '[data-testid="stElementContainer"]:has([data-testid="stHtml"] > script)'
_COOKIE_SAFE = re.compile(r"[A-Za-z0-9._~+/=-]*")  # a JWT, a cookie name: nothing to escape


class ScriptCookies:
    """What streamlit-authenticator calls of extra_streamlit_components' `CookieManager`: `set` and
    `delete`, with the same signatures. SameSite=Strict and path / as before; Secure on an HTTPS page."""

    def __init__(self, key: str = "init") -> None:
        self.cookies: dict[str, str] = {}  # the component's copy of the browser's cookies; never read here

    def set(
        self,
        cookie: str,
        val: str,
        key: str = "set",
        path: str = "/",
        expires_at: datetime | None = None,
        **_options: Any,
    ) -> None:
        attributes = ["path=/", "SameSite=Strict"]
        if expires_at is not None:  # the library's is naive local time
            attributes.append(f"expires={format_datetime(expires_at.astimezone(UTC), usegmt=True)}")
        _write(cookie, val, attributes)
        self.cookies[cookie] = val

    def delete(self, cookie: str, key: str = "delete") -> None:
        _write(cookie, "", ["path=/", "SameSite=Strict", "max-age=0"])
        self.cookies.pop(cookie, None)


def _write(name: str, value: str, attributes: list[str]) -> None:
    if not (name and _COOKIE_SAFE.fullmatch(name) and _COOKIE_SAFE.fullmatch(value)):
        raise ValueError("a cookie name or value with characters that need escaping")
    cookie = json.dumps("; ".join([f"{name}={value}", *attributes]))
    st.html(
        f"<script>document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');</script>"
        f"<style>{_HIDDEN} {{display: none}}</style>",  # no empty row in the layout
        unsafe_allow_javascript=True,
    )


def install() -> None:
    """streamlit-authenticator's cookie model builds its cookie manager from the `stx` module it imported;
    give it this one."""
    cookie_model.stx = types.SimpleNamespace(CookieManager=ScriptCookies)
