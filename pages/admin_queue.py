"""Queue (admins): jobs by status, stuck jobs, failures and their errors, retry and cancel; the workers,
their heartbeats and the queue lengths; the mail outbox in embedded mode."""

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import queue
from studio.ui.admin import queue_views
from studio.ui.shell import session
from studio.ui.shell.deps import services

admin = session.require_admin()
st.title("Queue", anchor=False)
try:
    found = queue.queue_overview(services(), admin.id)
except StudioError as err:
    st.error(str(err))
    st.stop()
queue_views.flash()
queue_views.statuses(found)
queue_views.workers(found)
stuck, active, failures = st.tabs(
    [f"Stuck ({len(found.stuck)})", f"In progress ({len(found.active)})", f"Failures ({len(found.failures)})"]
)
with stuck:
    queue_views.job_table(found.stuck, "No job is stuck.")
    queue_views.job_actions(admin.id, found.stuck, "stuck", ("Dispatch again", "Cancel"))
with active:
    queue_views.job_table(found.active, "Nothing is queued or running.")
    queue_views.job_actions(admin.id, found.active, "active", ("Cancel",))
with failures:
    queue_views.job_table(found.failures, "No failed jobs.")
    queue_views.job_actions(admin.id, found.failures, "failed", ("Retry",))
queue_views.outbox(found)
