"""Plans and billing: the plan in force, upgrade through Stripe Checkout, manage in Stripe's portal."""

import streamlit as st

from studio.services.billing import overview
from studio.ui.billing import billing_view
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Plans and billing", anchor=False)
billing_view.confirm_return(account.id)
state = overview.billing(services(), account.id)
billing_view.summary(state)
st.subheader("Plans", anchor=False)
billing_view.offers(state, account.id)
