"""Plans (admins): credits and price of each plan, its Stripe price, whether it is offered."""

import streamlit as st

from studio.services import plans
from studio.ui import admin_plans_view, session
from studio.ui.deps import services

actor = session.require_admin()
st.title("Plan catalogue", anchor=False)
st.caption("Changes apply from each account's next cycle; every change is written to the audit log.")
admin_plans_view.saved_notice()
rows = plans.plan_rows(services(), actor)
admin_plans_view.table(rows)
for row in rows:
    admin_plans_view.edit_form(actor, row)
