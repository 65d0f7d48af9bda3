"""Users (admins): find an account by the start of its email, username or name; see its plan, balance,
ledger, jobs and images; adjust credits, change the plan, disable or enable it, resend its verification."""

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import users
from studio.ui.admin import user_views
from studio.ui.shell import session
from studio.ui.shell.deps import services

admin = session.require_admin()
st.title("Users", anchor=False)
text = st.text_input("Search", placeholder="start of an email, username or name", key="users.search")
try:
    found = users.search_users(services(), admin.id, text)
except StudioError as err:
    st.error(str(err))
    st.stop()
if not found:
    st.info("No account starts with that.")
    st.stop()
chosen = user_views.pick(found)
try:
    detail = users.user_detail(services(), admin.id, chosen)
except StudioError as err:
    st.error(str(err))
    st.stop()
user_views.summary(detail)
ledger, jobs, actions = st.tabs(["Ledger", "Jobs", "Actions"])
with ledger:
    user_views.ledger(detail)
with jobs:
    user_views.jobs(detail)
with actions:
    user_views.actions(admin.id, detail)
