"""Audit log (admins): every admin action with who, what, before, after and when; filtered by admin,
action and days."""

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import audit_log
from studio.ui.shell import charts, session
from studio.ui.shell.deps import services

account = session.require_admin()
st.title("Audit log", anchor=False)
left, middle = st.columns(2)
actor = left.text_input("Admin (username or email)", key="audit.actor")
try:
    action = middle.selectbox(
        "Action",
        ["", *audit_log.audit_actions(services(), account.id)],
        key="audit.action",
        format_func=lambda name: name or "every action",
    )
    days = charts.range_picker("audit.range", default="Last 90 days")
    entries = audit_log.audit_log(services(), account.id, days=days, actor=actor, action=action or "")
except StudioError as err:
    st.error(str(err))
    st.stop()
st.caption(f"{len(entries)} action{'s' if len(entries) != 1 else ''} · {days} (UTC), newest first")
st.dataframe(
    [
        {
            "When": e.at,
            "Admin": e.actor,
            "Action": e.action,
            "Target": f"{e.target_type} {e.target_id}",
            "Before": e.before,
            "After": e.after,
            "Reason": e.reason or "",
        }
        for e in entries
    ],
    hide_index=True,
    width="stretch",
    column_config={"When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss")},
)
