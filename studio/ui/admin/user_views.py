"""The admin Users page's pieces: the account picker, its summary and tables, and the action forms."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import users
from studio.services.admin.users import UserDetail, UserRow
from studio.ui.shell.components import escape
from studio.ui.shell.deps import services

_DONE = "admin_users.done"


def pick(found: list[UserRow]) -> uuid.UUID:
    labels = {row.id: f"{row.email} · {row.username} · {row.name}" for row in found}
    chosen: uuid.UUID = st.selectbox(
        f"{len(found)} account{'s' if len(found) != 1 else ''}",
        list(labels),
        format_func=labels.__getitem__,
        key="users.pick",
    )
    return chosen


def summary(detail: UserDetail) -> None:
    user = detail.user
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(done, icon=":material/check:")
    st.subheader(escape(user.name), anchor=False)
    status = "disabled" if user.disabled else ("verified" if detail.verified else "not verified")
    st.caption(f"{escape(user.email)} · {escape(user.username)} · {user.role} · {status}")
    with st.container(horizontal=True):
        st.metric("Plan", detail.plan_name or "none", border=True)
        st.metric("Balance", f"{user.balance:,}", border=True)
        st.metric("Images", f"{detail.images:,}", border=True)
        st.metric("Renews", f"{detail.cycle_end:%d %b %Y}" if detail.cycle_end else "–", border=True)


def ledger(detail: UserDetail) -> None:
    st.dataframe(
        [
            {"When": r.at, "Kind": r.kind, "Credits": r.delta, "Balance": r.balance_after, "Reason": r.reason}
            for r in detail.ledger
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
            "Credits": st.column_config.NumberColumn(format="%+d"),
        },
    )


def jobs(detail: UserDetail) -> None:
    st.dataframe(
        [
            {"When": j.at, "Model": j.model, "Status": j.status, "Credits": j.credits, "Error": j.error or ""}
            for j in detail.jobs
        ],
        hide_index=True,
        width="stretch",
        column_config={"When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")},
    )


def _run(action: str, call: object) -> None:
    """Run a service call; remember the outcome for the next run's summary, or show the refusal now."""
    try:
        assert callable(call)
        call()
    except StudioError as err:
        st.error(str(err), icon=":material/error:")
    else:
        st.session_state[_DONE] = action
        st.rerun()


def actions(admin_id: uuid.UUID, detail: UserDetail) -> None:
    user = detail.user
    with st.form("users.adjust", clear_on_submit=True):
        st.markdown("**Adjust credits**")
        delta = st.number_input("Credits (+ to add, − to remove)", step=1, value=0, key="users.delta")
        reason = st.text_input("Reason (kept in the ledger and the audit log)", key="users.reason")
        if st.form_submit_button("Adjust credits"):
            _run(
                f"Credits adjusted by {int(delta):+,}.",
                lambda: users.adjust_credits(services(), admin_id, user.id, int(delta), reason),
            )
    choices = dict(users.plan_choices(services(), admin_id))
    with st.container(border=True):
        st.markdown("**Plan**")
        if detail.stripe_managed:
            st.caption("Paid through Stripe: change the plan in Stripe.")
        else:
            st.caption("A new plan starts a new cycle now with its credits; unused credits expire.")
            codes = list(choices)
            plan = st.selectbox(
                "Plan",
                codes,
                format_func=choices.__getitem__,
                key="users.plan",
                index=codes.index(detail.plan_code) if detail.plan_code in codes else 0,
            )
            if st.button("Change plan", key="users.change_plan"):
                _run(
                    f"Plan changed to {plan}.",
                    lambda: users.change_plan(services(), admin_id, user.id, plan),
                )
    with st.container(horizontal=True):
        if user.disabled:
            if st.button("Enable account", key="users.enable"):
                _run("Account enabled.", lambda: users.set_disabled(services(), admin_id, user.id, False))
        elif st.button("Disable account", key="users.disable", type="primary"):
            _run(
                "Account disabled; its sessions are signed out.",
                lambda: users.set_disabled(services(), admin_id, user.id, True),
            )
        if not detail.verified and st.button("Resend verification mail", key="users.resend"):
            _run(
                "Verification mail sent.",
                lambda: users.resend_verification(services(), admin_id, user.id),
            )
