"""Analytics (admins): activity, revenue against provider cost, failures and latency over a range of days,
with a CSV export."""

import streamlit as st

from studio.errors import StudioError
from studio.services.analytics import admin_analytics
from studio.ui.admin import figures
from studio.ui.shell import charts, session
from studio.ui.shell.deps import services

admin = session.require_admin()
st.title("Analytics", anchor=False)
days = charts.range_picker("admin.range")
try:
    found = admin_analytics.admin_analytics(services(), admin.id, days)
except StudioError as err:
    st.error(str(err))
    st.stop()
st.caption(f"{days} (UTC)")
figures.headline(found)
figures.per_day(found)
figures.per_model(found)
figures.per_plan(found)
st.download_button(
    "Download CSV",
    admin_analytics.as_csv(found),
    file_name=f"studio-analytics-{days.first}-{days.last}.csv",
    mime="text/csv",
    icon=":material/download:",
)
