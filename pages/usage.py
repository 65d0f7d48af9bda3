"""Usage: this cycle's plan, credits left and renewal date, what was spent by day and by model, and the
credit ledger."""

import streamlit as st

from studio.services import usage
from studio.ui import billing_view, session, usage_charts
from studio.ui.deps import services

account = session.require_account()
st.title("Usage", anchor=False)
found = usage.usage(services(), account.id)
if found is None:
    st.info("This account has no plan yet; an administrator can assign one.")
    st.stop()
billing_view.plan_notice(account.id)
usage_charts.meter(found)
usage_charts.charts(found)
st.subheader("Credit history", anchor=False)
usage_charts.history(found)
