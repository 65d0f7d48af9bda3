"""Analytics (admins): activity, revenue against provider cost, failures and latency over a range of days,
with a CSV export."""

import streamlit as st

from studio.errors import StudioError
from studio.services import analytics
from studio.ui import admin_views, analytics_views, session
from studio.ui.deps import services

admin = session.require_admin()
st.title("Analytics", anchor=False)
days = analytics_views.range_picker("admin.range")
try:
    found = analytics.admin_analytics(services(), admin.id, days)
except StudioError as err:
    st.error(str(err))
    st.stop()
st.caption(f"{days} (UTC)")
admin_views.headline(found)
admin_views.per_day(found)
admin_views.per_model(found)
admin_views.per_plan(found)
st.download_button(
    "Download CSV",
    analytics.as_csv(found),
    file_name=f"studio-analytics-{days.first}-{days.last}.csv",
    mime="text/csv",
    icon=":material/download:",
)
