"""The Generate page's jobs: live progress, results, and the history with "recall".

The progress panel is a fragment that reruns itself every second only while a job it shows is unfinished
(the interval is decided in the full run that defines it). When it sees every job finished it reruns the
whole page, and that run defines it without a timer: polling stops. Nothing here waits on a provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

import streamlit as st

from studio.domain.batches import eta_text
from studio.domain.catalogue import ModelSpec
from studio.domain.generation import JobStatus, Operation, operation_label
from studio.errors import NotFound, StudioError
from studio.services.generation import lifecycle, submissions, views
from studio.services.generation.views import ImageView, JobView
from studio.ui.generation import generate_form
from studio.ui.shell import components
from studio.ui.shell.components import escape
from studio.ui.shell.deps import services

IMAGE_PAGE = "pages/image.py"
POLL_SECONDS = 1.0
SHOWN = 3
_WATCH = "gen.watch"
_CANCEL_ERROR = "gen.cancel_error"

BadgeColor = Literal["gray", "blue", "green", "red", "orange"]
_BADGES: dict[JobStatus, tuple[str, str, BadgeColor]] = {
    JobStatus.QUEUED: ("Queued", ":material/schedule:", "gray"),
    JobStatus.SUBMITTED: ("Queued", ":material/schedule:", "gray"),
    JobStatus.RUNNING: ("Running", ":material/autorenew:", "blue"),
    JobStatus.SUCCEEDED: ("Done", ":material/check_circle:", "green"),
    JobStatus.FAILED: ("Failed", ":material/error:", "red"),
    JobStatus.CANCELLED: ("Cancelled", ":material/cancel:", "orange"),
}
DEMO_NOTE = "Demo image: rendered locally, no FAL_KEY set."


def watch(job_id: uuid.UUID) -> None:
    """Show this session's new job in the progress panel (newest first)."""
    watched = [str(job_id), *st.session_state.get(_WATCH, [])]
    st.session_state[_WATCH] = list(dict.fromkeys(watched))[:10]


def shown(recent: list[JobView]) -> list[JobView]:
    """Unfinished jobs and this session's jobs, newest first; else the latest job, so a return visit
    opens on its last result."""
    watched = set(st.session_state.get(_WATCH, []))
    jobs = [job for job in recent if not job.finished or str(job.id) in watched]
    return jobs[:SHOWN] or recent[:1]


#: What a results card offers under each image: quick iteration from it (image id, parent id).
IterateHere = Callable[[uuid.UUID, uuid.UUID | None], None]


def progress_panel(
    account_id: uuid.UUID, jobs: list[JobView], names: dict[str, str], iterate_here: IterateHere | None = None
) -> None:
    active = any(not job.finished for job in jobs)
    ids = [job.id for job in jobs]

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        current = _fetch(account_id, ids)
        error = st.session_state.pop(_CANCEL_ERROR, None)
        if error:
            st.error(error)
        if not current:
            _empty_state()
        for job in current:
            _card(account_id, job, names, iterate_here)
        if active and all(job.finished for job in current):
            st.rerun()  # the whole page: its next run defines this panel without a timer

    panel()


def _fetch(account_id: uuid.UUID, ids: list[uuid.UUID]) -> list[JobView]:
    jobs = []
    for job_id in ids:
        try:
            jobs.append(views.get_job(services(), account_id, job_id))
        except NotFound:
            continue
    return jobs


def _empty_state() -> None:
    with st.container(border=True, horizontal_alignment="center"):
        st.markdown(":material/photo_library: **Your images appear here**", text_alignment="center")
        st.caption(
            "Describe an image, pick a model and press Generate: you can watch the job here while it runs.",
            text_alignment="center",
        )


def _cancel(account_id: uuid.UUID, job_id: uuid.UUID) -> None:
    try:
        submissions.cancel_job(services(), account_id, job_id)
    except StudioError as err:
        st.session_state[_CANCEL_ERROR] = str(err)


def badge(job: JobView) -> None:
    label, icon, color = _BADGES[job.status]
    if not job.finished and job.cancel_requested:
        label, icon, color = "Cancelling", ":material/cancel:", "orange"
    st.badge(label, icon=icon, color=color)


def _card(
    account_id: uuid.UUID, job: JobView, names: dict[str, str], iterate_here: IterateHere | None
) -> None:
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            badge(job)
            name = names.get(job.model_endpoint, job.model_endpoint)
            if job.operation not in (Operation.TEXT_TO_IMAGE, Operation.IMAGE_TO_IMAGE):
                name = f"{operation_label(job.operation)} · {name}"
            st.markdown(f"**{escape(name)}**")
            st.caption(f"{job.num_images} image{'s' if job.num_images != 1 else ''} · {credits_text(job)}")
            if not job.finished and not job.cancel_requested:
                st.space("stretch")
                st.button(
                    "Cancel", key=f"gen.cancel.{job.id}", icon=":material/stop_circle:", type="tertiary",
                    on_click=_cancel, args=(account_id, job.id),
                )  # fmt: skip
        st.markdown(escape(components.excerpt(job.prompt, 200)))
        eta = f" · ETA {eta_text(job.eta_seconds)}" if job.eta_seconds is not None else ""
        if job.status in (JobStatus.QUEUED, JobStatus.SUBMITTED):
            where = "Waiting at the provider"
            if job.status is JobStatus.QUEUED:
                where = "Waiting for its turn" if job.waiting_turn else "Waiting for a worker"
            position = f" · position {job.queue_position + 1}" if job.queue_position is not None else ""
            st.progress(0.0, text=f"{where}{position}{eta}")
        elif job.status is JobStatus.RUNNING:
            st.progress(min(max(job.progress, 0.0), 1.0), text=f"Running · {round(job.progress * 100)}%{eta}")
            if job.logs:
                st.code("\n".join(job.logs[-3:]), language=None, wrap_lines=True)
        elif job.status is JobStatus.SUCCEEDED:
            _images(job, iterate_here)
        else:
            message = (job.error_message or "The job did not finish.").rstrip()
            if " returned." not in message and "charged." not in message:  # ended before messages said it
                message = f"{message.rstrip('.')}. {lifecycle.refund_note(job.credits_reserved)}"
            (st.error if job.status is JobStatus.FAILED else st.warning)(message)


def _images(job: JobView, iterate_here: IterateHere | None) -> None:
    columns = st.columns(2) if len(job.images) > 1 else [st.container()]
    for index, image in enumerate(job.images):
        with columns[index % len(columns)]:
            _image(job, image, iterate_here, single=len(job.images) == 1)
    if not job.images:
        st.caption("This job finished without images.")
    if job.provider == "demo":
        st.caption(f":material/info: {DEMO_NOTE}")


def _image(job: JobView, image: ImageView, iterate_here: IterateHere | None, *, single: bool) -> None:
    st.image(
        image.thumb_url, width="content" if single else "stretch", alt=components.excerpt(job.prompt, 120),
        caption=f"{image.width}×{image.height}" + (f" · seed {image.seed}" if image.seed is not None else ""),
    )  # fmt: skip
    if image.nsfw:
        st.caption(":material/visibility_off: Flagged by the safety checker")
    with st.container(horizontal=True, gap="small"):
        st.page_link(
            IMAGE_PAGE, label="Open", icon=":material/open_in_new:", query_params={"id": str(image.id)}
        )
        st.link_button("Download", image.download_url, icon=":material/download:", type="tertiary")
    # Drawn (and priced) only when asked for: the panel reruns every second while a job runs.
    if iterate_here is not None and st.toggle("Iterate", key=f"gen.iterate.{image.id}"):
        iterate_here(image.id, job.parent_image_id)


def credits_text(job: JobView) -> str:
    used = job.credits_settled if job.credits_settled is not None else job.credits_reserved
    return f"{used} credit{'s' if used != 1 else ''}"


def history(recent: list[JobView], models: list[ModelSpec]) -> None:
    """The newest jobs, each with a button that puts its exact request back into the form."""
    st.subheader("Recent jobs", anchor=False)
    if not recent:
        st.caption("Nothing yet: your jobs are listed here, newest first.")
        return
    by_id = {spec.endpoint_id: spec for spec in models}
    for job in recent:
        row = st.columns([1, 9, 2], vertical_alignment="center")
        with row[0]:
            if job.images:
                st.image(job.images[0].thumb_url, width=64, alt="")
            else:
                st.markdown(":material/image_not_supported:")
        with row[1], st.container(horizontal=True, vertical_alignment="center", gap="small"):
            if job.finished:
                badge(job)
            else:  # this list is not polled; the progress panel shows where the job is
                st.badge("In progress", icon=":material/hourglass_top:", color="blue")
            spec = by_id.get(job.request.model)
            st.markdown(f"**{escape(spec.name if spec else job.model_endpoint)}**")
            st.caption(f"{credits_text(job)} · {components.ago(job.created_at)}")
            st.markdown(escape(components.excerpt(job.prompt, 110)), width="stretch")
        row[2].button(
            "Recall", key=f"gen.recall.{job.id}", icon=":material/settings_backup_restore:",
            on_click=generate_form.recall, args=(job.request, spec), width="stretch",
            help="Put this job's prompt, model and settings (with its seed) back into the form",
        )  # fmt: skip
