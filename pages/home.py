"""Account: profile, security, two-factor sign-in, preferences and your data."""

import streamlit as st

from studio.ui.accounts import account_sections
from studio.ui.shell import components, session

account = session.require_account()
st.title(f"Welcome, {components.escape(account.name)}", anchor=False)
account_sections.verification_banner(account)
profile, security, two_factor, preferences, data = st.tabs(
    ["Profile", "Password & sessions", "Two-factor", "Preferences", "Your data"]
)
with profile:
    account_sections.profile_section(account)
with security:
    account_sections.security_section(account)
with two_factor:
    account_sections.two_factor_section(account)
with preferences:
    account_sections.preferences_section(account)
with data:
    account_sections.data_section(account)
