"""Usage: this cycle's plan, credits left and renewal date, what was spent by day and by model, the credit
ledger; then the person's generation analytics over a range of days."""

import streamlit as st

from studio.services import stats, usage
from studio.ui import analytics_views, billing_view, session, usage_charts
from studio.ui.deps import services

account = session.require_account()
st.title("Usage", anchor=False)
found = usage.usage(services(), account.id)
if found is None:
    st.info("This account has no plan yet; an administrator can assign one.")
else:
    billing_view.plan_notice(account.id)
    usage_charts.meter(found)
    usage_charts.charts(found)
    st.subheader("Credit history", anchor=False)
    usage_charts.history(found)

st.subheader("My generations", anchor=False)
days = analytics_views.range_picker("usage.range")
st.caption(f"{days} (UTC) · finished jobs only")
analytics_views.my_usage(stats.user_stats(services(), account.id, days))
