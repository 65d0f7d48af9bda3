"""The pages each role sees, rebuilt on every run from the restored account."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from studio.domain.accounts import Account
from studio.services.billing.overview import BILLING_PATH
from studio.services.library.sharing import SHARE_PATH
from studio.services.mails import RESET_PATH, VERIFY_PATH

PageGroups = dict[str, list[StreamlitPage]]


#: The favicon: a file of the studio's own (a `:material/...` icon would be fetched from Google's CDN).
ICON = Path(__file__).with_name("icon.png")


def _verify_page() -> StreamlitPage:
    """Mail links open this page whether or not the browser is signed in."""
    return st.Page(
        "pages/verify_email.py",
        title="Verify email",
        icon=":material/mark_email_read:",
        url_path=VERIFY_PATH,
        visibility="hidden",
    )


def _shared_page() -> StreamlitPage:
    """Share links open this page for anybody, signed in or not (registered in every session's first run)."""
    return st.Page(
        "pages/shared.py", title="Shared", icon=":material/share:", url_path=SHARE_PATH, visibility="hidden"
    )


def pages_for(account: Account | None) -> PageGroups:
    if account is None:
        return {
            "": [
                st.Page("pages/welcome.py", title="Welcome", icon=":material/waving_hand:", default=True),
                st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in"),
                st.Page(
                    "pages/register.py",
                    title="Create account",
                    icon=":material/person_add:",
                    url_path="register",
                ),
                st.Page(
                    "pages/forgot_password.py",
                    title="Forgot password",
                    icon=":material/lock_reset:",
                    url_path="forgot-password",
                    visibility="hidden",
                ),
                st.Page(
                    "pages/reset_password.py",
                    title="Reset password",
                    icon=":material/password:",
                    url_path=RESET_PATH,
                    visibility="hidden",
                ),
                _verify_page(),
                _shared_page(),
            ]
        }
    groups: PageGroups = {
        "Studio": [
            st.Page(
                "pages/dashboard.py", title="Dashboard", icon=":material/dashboard:", url_path="dashboard"
            ),
            st.Page(
                "pages/generate.py",
                title="Generate",
                icon=":material/auto_awesome:",
                url_path="generate",
                default=True,
            ),
            st.Page("pages/batch.py", title="Batches", icon=":material/stacks:", url_path="batches"),
            st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:", url_path="gallery"),
            st.Page("pages/prompts.py", title="Prompts", icon=":material/format_quote:", url_path="prompts"),
            st.Page(
                "pages/edit.py", title="Edit", icon=":material/brush:", url_path="edit", visibility="hidden"
            ),
            st.Page(
                "pages/compare.py",
                title="Compare",
                icon=":material/compare:",
                url_path="compare",
                visibility="hidden",
            ),
            st.Page("pages/projects.py", title="Projects", icon=":material/folder:", url_path="projects"),
            st.Page(
                "pages/collections.py",
                title="Collections",
                icon=":material/collections_bookmark:",
                url_path="collections",
            ),
            st.Page("pages/trash.py", title="Trash", icon=":material/delete:", url_path="trash"),
            st.Page("pages/usage.py", title="Usage", icon=":material/monitoring:", url_path="usage"),
            st.Page("pages/billing.py", title="Plans", icon=":material/credit_card:", url_path=BILLING_PATH),
            st.Page("pages/home.py", title="Account", icon=":material/account_circle:", url_path="account"),
            st.Page(
                "pages/image.py",
                title="Image",
                icon=":material/image:",
                url_path="image",
                visibility="hidden",
            ),
            _verify_page(),
            _shared_page(),
        ],
    }
    if account.is_admin:
        groups["Admin"] = [
            st.Page(
                "pages/admin_analytics.py",
                title="Analytics",
                icon=":material/insights:",
                url_path="analytics",
            ),
            st.Page("pages/admin_users.py", title="Users", icon=":material/group:", url_path="users"),
            st.Page(
                "pages/admin_models.py", title="Models", icon=":material/model_training:", url_path="models"
            ),
            st.Page("pages/admin_queue.py", title="Queue", icon=":material/queue:", url_path="queue"),
            st.Page("pages/admin_audit.py", title="Audit log", icon=":material/history:", url_path="audit"),
            st.Page(
                "pages/admin_system.py", title="System", icon=":material/monitor_heart:", url_path="system"
            ),
            st.Page(
                "pages/admin_plans.py", title="Plan catalogue", icon=":material/sell:", url_path="admin-plans"
            ),
        ]
    return groups
