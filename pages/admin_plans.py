"""Plans (admins): credits and price of each plan, its Stripe price, whether it is offered."""

import streamlit as st

from studio.services.admin import plans
from studio.ui.admin import plan_views
from studio.ui.shell import session
from studio.ui.shell.deps import services

actor = session.require_admin()
st.title("Plan catalogue", anchor=False)
st.caption("Changes apply from each account's next cycle; every change is written to the audit log.")
plan_views.saved_notice()
rows = plans.plan_rows(services(), actor)
plan_views.table(rows)
for row in rows:
    plan_views.edit_form(actor, row)
