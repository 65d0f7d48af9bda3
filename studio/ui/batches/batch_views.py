"""The Batch page's list: each batch as one group, with its counts (queued, running, done, failed,
cancelled), a progress bar with the ETA, its controls (pause, resume, cancel the rest, retry the failed
rows, priority, export) and its images as they arrive. A fragment reruns it every second while a batch
shown is unfinished, and stops once none is."""

from __future__ import annotations

import uuid
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from studio.domain.batches import SOURCE_LABELS, Priority, eta_text
from studio.domain.generation import JobStatus
from studio.errors import StudioError
from studio.services.batches import control, export, views
from studio.services.batches.views import BatchView
from studio.services.library import downloads
from studio.ui.batches.batch_form import SELECTED
from studio.ui.shell import components
from studio.ui.shell.deps import services

POLL_SECONDS = 1.0
SHOWN = 10
IMAGE_PAGE = "pages/image.py"
_ERROR = "batch.error"
_EXPORT = "batch.zip."  # + batch id: (download id, image count) of a ZIP being built

BadgeColor = Literal["gray", "blue", "green", "red", "orange", "violet"]
_STATES: dict[str, tuple[str, str, BadgeColor]] = {
    "running": ("Running", ":material/autorenew:", "blue"),
    "paused": ("Paused", ":material/pause_circle:", "orange"),
    "scheduled": ("Scheduled", ":material/event:", "violet"),
    "finishing": ("Cancelled · finishing", ":material/cancel:", "orange"),
    "cancelled": ("Cancelled", ":material/cancel:", "gray"),
    "done": ("Done", ":material/check_circle:", "green"),
}


def has_batches(account_id: uuid.UUID) -> bool:
    return bool(views.list_batches(services(), account_id, limit=1))


def batch_list(account_id: uuid.UUID) -> None:
    batches = views.list_batches(services(), account_id, limit=SHOWN)
    active = any(batch.state not in ("done", "cancelled") for batch in batches)

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        current = views.list_batches(services(), account_id, limit=SHOWN)
        error = st.session_state.pop(_ERROR, None)
        if error:
            st.error(error)
        if not current:
            st.caption("No batch yet: the batches you start are listed here, newest first.")
        selected = st.session_state.get(SELECTED)
        for index, batch in enumerate(current):
            _group(account_id, batch, open_rows=str(batch.id) == selected or index == 0)
        if active and all(batch.state in ("done", "cancelled") for batch in current):
            st.rerun()  # the whole page: its next run defines this panel without a timer

    panel()


def _do(action: str, account_id: uuid.UUID, batch_id: uuid.UUID, priority: int | None = None) -> None:
    """on_click of a control: the service call, its refusal kept for the panel to show."""
    try:
        if action == "pause":
            control.pause(services(), account_id, batch_id)
        elif action == "resume":
            control.resume(services(), account_id, batch_id)
        elif action == "cancel":
            control.cancel(services(), account_id, batch_id)
        elif action == "retry":
            control.retry_failed(services(), account_id, batch_id)
        elif action == "priority" and priority is not None:
            control.set_priority(services(), account_id, batch_id, Priority(priority))
        elif action == "export":
            download = export.prepare(services(), account_id, batch_id)
            st.session_state[f"{_EXPORT}{batch_id}"] = (str(download.id), download.count, download.url)
    except StudioError as err:
        st.session_state[_ERROR] = str(err)


def _counts(batch: BatchView) -> str:
    counts = batch.counts
    parts = [f"{counts[name]:,} {name}" for name in ("queued", "running", "done", "failed", "cancelled")]
    return " · ".join(parts)


def _group(account_id: uuid.UUID, batch: BatchView, *, open_rows: bool) -> None:
    label, icon, color = _STATES[batch.state]
    with st.container(border=True, key=f"batch-group-{batch.id}"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.badge(label, icon=icon, color=color)
            st.markdown(f"**{components.escape(batch.name)}**")
            model = views.model_name(batch.model_endpoint)
            st.caption(
                f"{SOURCE_LABELS[batch.source]} · {batch.rows:,} rows · {model}"
                f" · {components.ago(batch.created_at)}"
            )
        finished = batch.finished_rows
        if batch.state in ("running", "scheduled", "paused", "finishing"):
            when = (
                f"starts {batch.run_at.astimezone(_zone(batch.timezone)):%d %b %H:%M} ({batch.timezone})"
                if batch.scheduled and batch.run_at is not None
                else ("paused" if batch.paused else f"ETA {eta_text(batch.eta_seconds)}")
            )
            text = f"{finished:,} of {batch.rows:,} rows finished · {when}"
        else:
            text = f"{finished:,} of {batch.rows:,} rows finished"
        st.progress(batch.progress, text=text)
        st.caption(
            f"{_counts(batch)} · {batch.credits_spent:,} credits spent, {batch.credits_reserved:,} reserved"
            f" · priority {batch.priority.label.lower()}"
            + (f" · fallback {views.model_name(batch.fallback_endpoint)}" if batch.fallback_endpoint else "")
        )
        _controls(account_id, batch)
        _images(account_id, batch)
        with st.expander(f"Rows ({batch.rows:,})", expanded=open_rows and batch.rows <= 20):
            _rows(account_id, batch)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _controls(account_id: uuid.UUID, batch: BatchView) -> None:
    unfinished = batch.counts["queued"] + batch.counts["running"]
    with st.container(horizontal=True, gap="small"):
        if unfinished and not batch.cancelled:
            if batch.paused:
                st.button(
                    "Resume", key=f"batch.resume.{batch.id}", icon=":material/play_arrow:",
                    on_click=_do, args=("resume", account_id, batch.id),
                )  # fmt: skip
            else:
                st.button(
                    "Pause", key=f"batch.pause.{batch.id}", icon=":material/pause:",
                    on_click=_do, args=("pause", account_id, batch.id),
                    help="Nothing more of the batch starts; the rows at the provider finish",
                )  # fmt: skip
            if batch.counts["queued"]:
                st.button(
                    "Cancel the rest", key=f"batch.cancel.{batch.id}", icon=":material/cancel:",
                    on_click=_do, args=("cancel", account_id, batch.id),
                    help="Every row not yet started is cancelled and its credits returned",
                )  # fmt: skip
            with st.popover("Priority", icon=":material/low_priority:"):
                for choice in Priority:
                    st.button(
                        choice.label, key=f"batch.priority.{batch.id}.{choice.value}",
                        disabled=choice is batch.priority, type="tertiary",
                        on_click=_do, args=("priority", account_id, batch.id, int(choice)),
                    )  # fmt: skip
        if batch.counts["failed"]:
            st.button(
                f"Retry {batch.counts['failed']} failed", key=f"batch.retry.{batch.id}",
                icon=":material/replay:", on_click=_do, args=("retry", account_id, batch.id),
                help="The failed rows run again as they were, each reserved anew",
            )  # fmt: skip
        if batch.counts["done"] or not unfinished:
            st.button(
                "Export ZIP", key=f"batch.export.{batch.id}", icon=":material/folder_zip:", type="tertiary",
                on_click=_do, args=("export", account_id, batch.id),
                help="The images, a manifest (CSV and JSON: row, prompt, seed, model, file) and the report",
            )  # fmt: skip
        _download(account_id, batch)


def _download(account_id: uuid.UUID, batch: BatchView) -> None:
    pending = st.session_state.get(f"{_EXPORT}{batch.id}")
    if not pending:
        return
    download_id, count, url = pending
    if url is None:
        found = downloads.zip_status(services(), account_id, uuid.UUID(download_id), count)
        if found.failed:
            st.caption(":material/error: The ZIP could not be built; please try again.")
            return
        url = found.url
    if url is None:
        st.caption(f":material/hourglass_top: Building the ZIP of {count:,} images…")
    else:
        st.link_button("Download ZIP", url, icon=":material/download:", type="primary")


def _images(account_id: uuid.UUID, batch: BatchView) -> None:
    images = views.batch_images(services(), account_id, batch.id, limit=12)
    if not images:
        return
    columns = st.columns(6)
    for index, image in enumerate(images):
        with columns[index % 6]:
            st.image(image.thumb_url, width="stretch", alt="")
            st.page_link(IMAGE_PAGE, label="Open", query_params={"id": str(image.id)})


_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.SUBMITTED: "running",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


def _rows(account_id: uuid.UUID, batch: BatchView) -> None:
    rows = views.batch_rows(services(), account_id, batch.id, limit=200)
    st.dataframe(
        [
            {
                "Row": row.number,
                "Status": _STATUS[row.status] + (" (fallback)" if row.fallback_of_id else ""),
                "Prompt": components.excerpt(row.prompt, 100),
                "Model": views.model_name(row.model_endpoint),
                "Seed": row.seed,
                "Credits": row.credits_settled if row.credits_settled is not None else row.credits_reserved,
                "Images": len(row.images),
                "Note": row.error_message or "",
            }
            for row in rows
        ],
        hide_index=True,
        width="stretch",
    )
    if batch.rows > len(rows):
        st.caption(f"The first {len(rows)} rows; the export has them all.")
