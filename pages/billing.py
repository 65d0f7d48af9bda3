"""Plans and billing: the plan in force, upgrade through Stripe Checkout, manage in Stripe's portal."""

import streamlit as st

from studio.services import billing
from studio.ui import billing_view, session
from studio.ui.deps import services

account = session.require_account()
st.title("Plans and billing", anchor=False)
billing_view.confirm_return(account.id)
state = billing.billing(services(), account.id)
billing_view.summary(state)
st.subheader("Plans", anchor=False)
billing_view.offers(state, account.id)
