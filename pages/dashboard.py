"""Dashboard: the account at a glance: counts, newest images, favourites, projects and recent activity; a
welcome with the first generation one click away for someone new."""

import streamlit as st

from studio.services.analytics import dashboard
from studio.ui.analytics import dashboard_views
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Dashboard", anchor=False)
found = dashboard.dashboard(services(), account.id)
if found.is_new:
    dashboard_views.welcome(account.name, found.credits_left)
dashboard_views.cards(found)
gallery, feed = st.columns([3, 2], gap="large")
with gallery:
    dashboard_views.thumbs("Recent generations", found.recent, "Your images appear here once you generate.")
    dashboard_views.thumbs("Favourites", found.favourite_images, "Star an image to keep it here.")
    dashboard_views.projects(found.recent_projects)
with feed:
    dashboard_views.activity(found.activity)
