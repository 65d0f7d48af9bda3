"""The pages each role sees, rebuilt on every run from the restored account."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from studio.domain.accounts import Account

PageGroups = dict[str, list[StreamlitPage]]


def pages_for(account: Account | None) -> PageGroups:
    if account is None:
        return {
            "": [
                st.Page("pages/welcome.py", title="Welcome", icon=":material/waving_hand:", default=True),
                st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in"),
            ]
        }
    groups: PageGroups = {
        "Studio": [
            st.Page(
                "pages/generate.py",
                title="Generate",
                icon=":material/auto_awesome:",
                url_path="generate",
                default=True,
            ),
            st.Page("pages/home.py", title="Account", icon=":material/account_circle:", url_path="account"),
        ],
    }
    if account.is_admin:
        groups["Admin"] = [
            st.Page(
                "pages/admin_system.py", title="System", icon=":material/monitor_heart:", url_path="system"
            )
        ]
    return groups
