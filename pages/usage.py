"""Usage: this cycle's plan, credits left and renewal date, what was spent by day and by model, the credit
ledger; then the person's generation analytics over a range of days."""

import streamlit as st

from studio.services.analytics import user_stats
from studio.services.billing import usage
from studio.ui.analytics import usage_stats
from studio.ui.billing import billing_view, usage_charts
from studio.ui.shell import charts, session
from studio.ui.shell.deps import services

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
days = charts.range_picker("usage.range")
st.caption(f"{days} (UTC) · finished jobs only")
usage_stats.my_usage(user_stats.user_stats(services(), account.id, days))
