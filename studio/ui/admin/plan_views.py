"""The admin Plans page's pieces: the plans as a table, and one form per plan."""

from __future__ import annotations

import streamlit as st

from studio.domain.accounts import Account
from studio.domain.plans import FREE
from studio.errors import StudioError
from studio.services.admin import plans
from studio.services.admin.plans import PlanRow
from studio.ui.shell import components
from studio.ui.shell.deps import services

_SAVED = "admin.plans.saved"


def saved_notice() -> None:
    message = st.session_state.pop(_SAVED, None)
    if message:
        st.success(message, icon=":material/check:")


def table(rows: list[PlanRow]) -> None:
    frame = [
        {
            "Plan": row.name,
            "Credits / month": row.monthly_credits,
            "Price / month": f"${row.price_cents / 100:,.2f}",
            "Stripe price": row.stripe_price_id or "not for sale",
            "Offered": row.is_active,
            "Accounts": row.subscribers,
            "Margin at worst": "—" if row.worst_margin is None else f"{row.worst_margin:.1%}",
        }
        for row in rows
    ]
    st.dataframe(frame, hide_index=True, width="stretch")
    thin = [row.name for row in rows if row.worst_margin is not None and row.worst_margin < 0.5]
    if thin:
        st.warning(
            f"Under 50 % gross margin at full use of the most expensive enabled model: {', '.join(thin)}.",
            icon=":material/trending_down:",
        )


def edit_form(actor: Account, row: PlanRow) -> None:
    with st.expander(f"Change {row.name}", icon=":material/edit:"), st.form(f"plan.{row.code}"):
        name = st.text_input("Name", value=row.name, max_chars=64)
        credits = st.number_input("Credits per month", 1, 1_000_000, row.monthly_credits, step=50)
        price = st.number_input(
            "Price per month (US$)", 0.0, 100_000.0, row.price_cents / 100, step=1.0, format="%.2f",
            disabled=row.code == FREE,
        )  # fmt: skip
        price_id = st.text_input(
            "Stripe price id", value=row.stripe_price_id or "", disabled=row.code == FREE,
            help="Set by STRIPE_PRICE_* when configured (that value wins at the next start)",
        )  # fmt: skip
        active = st.checkbox("Offered", value=row.is_active, disabled=row.code == FREE)
        reason = st.text_input("Reason (for the audit log)", max_chars=2000)
        if st.form_submit_button("Save", type="primary"):
            try:
                plans.update_plan(
                    services(), actor, row.code, name=name, monthly_credits=int(credits),
                    price_cents=round(price * 100), stripe_price_id=price_id, is_active=active, reason=reason,
                )  # fmt: skip
            except StudioError as err:
                components.refusal(err)
            else:
                st.session_state[_SAVED] = f"{name} saved: accounts get its credits from their next cycle."
                st.rerun()
