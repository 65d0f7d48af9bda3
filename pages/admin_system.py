"""System (admins): health of each service, configuration, schema, jobs and the mail outbox."""

import streamlit as st

from studio.services.admin.system import system_status
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

session.require_admin()
st.title("System")
status = system_status(services())

st.subheader("Services")
if status.health.ok:
    st.success("Every service is answering.")
else:
    st.error("A service is down: see the table.")
components.health_table(status.health)

left, right = st.columns(2)
with left:
    st.subheader("Configuration")
    st.dataframe(
        [{"Part": part.capitalize(), "Uses": value} for part, value in status.configuration.items()],
        hide_index=True,
        width="stretch",
    )
    at_head = status.schema_revision == status.schema_head
    st.caption(
        f"Schema revision {status.schema_revision or 'none'}"
        + (" (latest)" if at_head else f", latest is {status.schema_head}")
    )
with right:
    st.subheader("Jobs")
    if status.jobs is None:
        st.warning("The job queue is not answering.")
    else:
        cells = st.columns(3)
        cells[0].metric("Queued", status.jobs.queued + status.jobs.scheduled)
        cells[1].metric("Running", status.jobs.running)
        cells[2].metric("Failed", status.jobs.failed)
        where = "RQ worker processes" if status.configuration["jobs"] == "rq" else "job threads in the app"
        st.caption(f"{status.jobs.workers} {where} alive")

st.subheader("Image provider")
if status.configuration["provider"] == "demo":
    st.info("No FAL_KEY is set: generations use the demo provider (labelled demo images, no cost).")
if status.provider_errors:
    st.error(
        f"{len(status.provider_errors)} job(s) failed in the last day because of the provider configuration. "
        "Check FAL_KEY and the fal account."
    )
    st.dataframe(
        [
            {"When": e.at, "Model": e.model, "Code": e.code, "Message": e.message}
            for e in status.provider_errors
        ],
        hide_index=True,
        width="stretch",
    )
elif status.configuration["provider"] == "fal":
    st.caption("fal.ai accepted every request in the last day.")

if status.outbox is not None:
    st.subheader("Mail outbox")
    if not status.outbox:
        st.caption("No mail has been written to the outbox.")
    for message in status.outbox:
        with st.expander(f"{message.sent_at:%Y-%m-%d %H:%M} · {message.to} · {message.subject}"):
            st.text(message.text)
