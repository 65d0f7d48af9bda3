"""Users (admins): find an account by the start of its email, username or name; see its plan, balance,
ledger, jobs and images; adjust credits, change the plan, disable or enable it, resend its verification."""

import streamlit as st

from studio.errors import StudioError
from studio.services import admin_users
from studio.ui import admin_user_views, session
from studio.ui.deps import services

admin = session.require_admin()
st.title("Users", anchor=False)
text = st.text_input("Search", placeholder="start of an email, username or name", key="users.search")
try:
    found = admin_users.search_users(services(), admin.id, text)
except StudioError as err:
    st.error(str(err))
    st.stop()
if not found:
    st.info("No account starts with that.")
    st.stop()
chosen = admin_user_views.pick(found)
try:
    detail = admin_users.user_detail(services(), admin.id, chosen)
except StudioError as err:
    st.error(str(err))
    st.stop()
admin_user_views.summary(detail)
ledger, jobs, actions = st.tabs(["Ledger", "Jobs", "Actions"])
with ledger:
    admin_user_views.ledger(detail)
with jobs:
    admin_user_views.jobs(detail)
with actions:
    admin_user_views.actions(admin.id, detail)
