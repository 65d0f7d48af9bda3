"""The admin Queue page's pieces: status counts, workers, job tables with their actions, the outbox."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import queue
from studio.services.admin.queue import QueueJob, QueueOverview
from studio.ui.shell.components import excerpt
from studio.ui.shell.deps import services

_FLASH = "queue.flash"
STATUSES = ("queued", "submitted", "running", "succeeded", "failed", "cancelled")


def flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message, icon=":material/check:")


def statuses(found: QueueOverview) -> None:
    with st.container(horizontal=True):
        for status in STATUSES:
            st.metric(status.capitalize(), f"{found.by_status.get(status, 0):,}", border=True)


def workers(found: QueueOverview) -> None:
    st.subheader("Workers", anchor=False)
    if found.workers is None:
        st.error(f"The job queue is not answering: {found.queue_error}")
        return
    where = "RQ workers on Redis" if found.backend == "rq" else "job threads inside the app (embedded mode)"
    lengths = ", ".join(f"{name}: {count}" for name, count in (found.lengths or {}).items())
    st.caption(f"{len(found.workers)} {where} · waiting per queue: {lengths or 'none'}")
    st.dataframe(
        [
            {
                "Worker": w.name,
                "State": w.state,
                "Queues": ", ".join(w.queues),
                "Job": w.current_job or "",
                "Last heartbeat": w.last_heartbeat,
            }
            for w in found.workers
        ],
        hide_index=True,
        width="stretch",
        column_config={"Last heartbeat": st.column_config.DatetimeColumn(format="D MMM, HH:mm:ss")},
    )


def job_table(jobs: list[QueueJob], empty: str) -> None:
    if not jobs:
        st.caption(empty)
        return
    st.dataframe(
        [
            {
                "Job": str(j.id)[:8],
                "Owner": j.owner,
                "Model": j.model,
                "Status": j.status,
                "Created": j.created_at,
                "Heartbeat": j.heartbeat_at,
                "Attempts": j.attempts,
                "Error": excerpt(j.error_message or "", 120),
            }
            for j in jobs
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "Created": st.column_config.DatetimeColumn(format="D MMM, HH:mm:ss"),
            "Heartbeat": st.column_config.DatetimeColumn(format="D MMM, HH:mm:ss"),
        },
    )


def job_actions(admin_id: uuid.UUID, jobs: list[QueueJob], key: str, actions: tuple[str, ...]) -> None:
    if not jobs:
        return
    labels = {j.id: f"{str(j.id)[:8]} · {j.owner} · {j.model} · {j.status}" for j in jobs}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        chosen = st.selectbox("Job", list(labels), format_func=labels.__getitem__, key=f"queue.{key}.job")
        pressed = [action for action in actions if st.button(action, key=f"queue.{key}.{action}")]
    if not pressed or chosen is None:
        return
    try:
        if pressed[0] == "Retry":
            new = queue.retry_job(services(), admin_id, chosen)
            message = f"Retried as job {str(new)[:8]}."
        elif pressed[0] == "Dispatch again":
            attempt = queue.dispatch_again(services(), admin_id, chosen)
            message = f"Dispatched again (attempt {attempt})."
        else:
            status = queue.cancel_job(services(), admin_id, chosen)
            message = f"Cancel requested: the job is {status}."
    except StudioError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.session_state[_FLASH] = message
    st.rerun()


def outbox(found: QueueOverview) -> None:
    if found.outbox is None:
        return
    st.subheader("Mail outbox", anchor=False)
    if not found.outbox:
        st.caption("No mail has been written to the outbox.")
    for message in found.outbox:
        with st.expander(f"{message.sent_at:%Y-%m-%d %H:%M} · {message.to} · {message.subject}"):
            st.text(message.text)
