"""The Batch page's form: where the rows come from (a prompt a line, a CSV, a template's combinations, a
seed grid, a models × prompts matrix), the batch's parameters (Generate's own panel), how it runs
(priority, a start time in the person's timezone, a fallback model), and the cost preview before anything
is queued. It is not an `st.form`: the preview follows every change."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from studio.domain.batches import (
    CSV_COLUMNS,
    CSV_MAX_BYTES,
    SOURCE_LABELS,
    Allowance,
    Priority,
    Row,
    RowsError,
    Source,
    eta_text,
    from_csv,
    from_lines,
    matrix,
    seed_grid,
)
from studio.domain.catalogue import SEED_MAX, ModelSpec
from studio.domain.parameters import Request
from studio.errors import InsufficientCredits, StudioError
from studio.services.batches import runs
from studio.services.batches.runs import Draft, Preview
from studio.ui.billing import billing_view
from studio.ui.generation import generate_form, generate_params
from studio.ui.shell import components
from studio.ui.shell.deps import services

FROM_GENERATE = "batch.from_generate"  # Generate's "Run as batch": its request, for this form
SELECTED = "batch.selected"  # the batch just started: opened in the list
_KEY = "batch.submission"
_SOURCE = "batch.source"
SAMPLE_CSV = (
    "prompt,negative_prompt,seed,num_images\n"
    '"a lighthouse on a basalt cliff at dusk, warm light",,42,1\n'
    '"the same lighthouse in a snow storm, night",blurry,43,2\n'
)


def allowance(account_id: uuid.UUID) -> Allowance:
    return runs.plan_allowance(services(), account_id)[1]


def take_from_generate(models: list[ModelSpec]) -> bool:
    """Generate's request (Run as batch), put into this form before its widgets are made: the model, its
    settings and the prompt as the first line (a template as the template). True when there was one."""
    sent = st.session_state.pop(FROM_GENERATE, None)
    if not sent:
        return False
    request = Request.from_json(sent)
    spec = next((model for model in models if model.endpoint_id == request.model), None)
    if spec is None:
        return False
    st.session_state[generate_form.MODEL] = spec.endpoint_id
    generate_params.restore(spec, replace(request, params={**request.params, "seed": None}))
    if spec.negative_prompt:
        st.session_state[generate_params.key(spec, "negative_prompt")] = request.negative_prompt
    if request.template:
        st.session_state[_SOURCE] = Source.TEMPLATE.value
        st.session_state["batch.template"] = request.template
    else:
        st.session_state[_SOURCE] = Source.LINES.value
        st.session_state["batch.lines"] = request.prompt
    return True


def _rows(account_id: uuid.UUID, source: Source, models: list[ModelSpec], cap: int) -> list[Row]:
    """The rows of the chosen source; RowsError says what is wrong with them, by row."""
    if source is Source.LINES:
        lines = st.text_area(
            "Prompts, one a line", key="batch.lines", height=180,
            placeholder="a lighthouse at dusk\na lighthouse in a storm\na lighthouse at dawn, mist",
        )  # fmt: skip
        return from_lines(lines)
    if source is Source.CSV:
        st.caption(
            "A header row, then a row per job: `prompt` (required), and any of "
            f"{', '.join(f'`{name}`' for name in CSV_COLUMNS[1:])}, or a parameter of the model by name "
            "(`num_images`, `image_size`, `guidance_scale`, ...). Empty cells take the batch's settings."
        )
        st.download_button(
            "Sample CSV", SAMPLE_CSV, file_name="batch-sample.csv", mime="text/csv", type="tertiary",
            icon=":material/download:",
        )  # fmt: skip
        upload = st.file_uploader(
            "CSV file", type=["csv"], key="batch.csv", max_upload_size=max(1, CSV_MAX_BYTES // (1024 * 1024))
        )
        return from_csv(upload.getvalue()) if upload is not None else []
    if source is Source.TEMPLATE:
        text = st.text_area(
            "Template", key="batch.template", height=120,
            placeholder="a {red|green|blue} {lighthouse|windmill} at __time_of_day__",
            help="The prompt library's template language; every combination becomes a row.",
        )  # fmt: skip
        return runs.template_rows(services(), account_id, text, {}, cap) if text.strip() else []
    if source is Source.SEEDS:
        prompt = st.text_area("Prompt", key="batch.seed_prompt", height=90)
        first, count = st.columns(2)
        start = first.number_input("First seed", 0, SEED_MAX, value=1, step=1, key="batch.seed_first")
        many = count.number_input("Seeds", 1, max(cap, 1), value=min(8, cap), step=1, key="batch.seed_count")
        return seed_grid(prompt.strip(), int(start), int(many)) if prompt.strip() else []
    prompts = st.text_area("Prompts, one a line", key="batch.matrix_prompts", height=120)
    by_id = {model.endpoint_id: model for model in models}
    chosen = st.multiselect(
        "Models", list(by_id), format_func=lambda endpoint: by_id[endpoint].name,
        key="batch.matrix_models", default=list(by_id)[:2],
        help="Each prompt runs on each model (the batch's settings where they apply)",
    )  # fmt: skip
    return matrix([row.prompt for row in from_lines(prompts)], [str(model) for model in chosen])


def _zone() -> tuple[str, ZoneInfo]:
    """The browser's timezone (UTC when it is not known)."""
    name = st.context.timezone or "UTC"
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC", ZoneInfo("UTC")


def _schedule() -> tuple[datetime | None, str]:
    name, zone = _zone()
    later = st.toggle("Start later", key="batch.later")
    if not later:
        return None, name
    soon = datetime.now(zone) + timedelta(hours=1)
    day_cell, time_cell = st.columns(2)
    day = day_cell.date_input("Day", value=soon.date(), min_value=datetime.now(zone).date(), key="batch.day")
    at = time_cell.time_input("Time", value=time(soon.hour, 0), key="batch.time", step=timedelta(minutes=15))
    st.caption(f"In your timezone, {name}.")
    return datetime.combine(day, at, tzinfo=zone), name


def _fallbacks(spec: ModelSpec, models: list[ModelSpec]) -> str | None:
    others = [m for m in models if m.endpoint_id != spec.endpoint_id and m.operation == spec.operation]
    names = {model.endpoint_id: model.name for model in others}
    chosen = st.selectbox(
        "Fallback model", [None, *names], format_func=lambda endpoint: names.get(endpoint, "None"),
        key="batch.fallback",
        help="A job the provider fails (after its retries) runs once more on this model, at its price.",
    )  # fmt: skip
    return str(chosen) if chosen else None


def draft(account_id: uuid.UUID, models: list[ModelSpec], cap: int) -> Draft | RowsError:
    """The form: the rows, the batch's settings and how it runs (or what is wrong with the rows)."""
    name = st.text_input(
        "Name",
        key=generate_params.default("batch.name", f"Batch {datetime.now(_zone()[1]):%d %b %H:%M}"),
        max_chars=200,
    )
    labels = {source.value: label for source, label in SOURCE_LABELS.items()}
    chosen = st.segmented_control(
        "Rows from", list(labels), format_func=labels.__getitem__,
        key=generate_params.default(_SOURCE, Source.LINES.value), required=True,
    )  # fmt: skip
    source = Source(chosen or Source.LINES.value)
    try:
        rows = _rows(account_id, source, models, cap)
        problem = None
    except RowsError as err:
        rows, problem = [], err
    st.subheader("Settings for every row", anchor=False)
    spec = generate_form.model_picker(models)
    negative = ""
    if spec.negative_prompt:
        negative = st.text_area(
            "Negative prompt", key=generate_params.default(generate_params.key(spec, "negative_prompt"), ""),
            height=68, help="A row's own negative prompt (a CSV column) replaces it",
        ) or ""  # fmt: skip
    style, params = generate_params.panel(spec, with_seed=False)  # each row has its own seed
    st.subheader("How it runs", anchor=False)
    order, fallback_cell = st.columns(2)
    with order:
        priority = st.selectbox(
            "Priority", list(Priority), index=1, format_func=lambda p: p.label, key="batch.priority",
            help="Among your own work only: other people's jobs take turns with yours whatever you pick",
        )  # fmt: skip
    with fallback_cell:
        fallback = _fallbacks(spec, models)
    run_at, zone = _schedule()
    if problem is not None:
        return problem
    return Draft(
        name=name or "",
        source=source,
        request=Request(spec.endpoint_id, "", negative, style, params),
        rows=rows,
        priority=Priority(priority if priority is not None else Priority.NORMAL),
        run_at=run_at,
        timezone=zone,
        fallback_model=fallback,
    )


def _credits(count: int) -> str:
    return f"{count:,} credit{'s' if count != 1 else ''}"


def preview_and_start(account_id: uuid.UUID, batch: Draft) -> None:
    """The cost preview (rows, jobs, images, credits per row and in all, the balance, the plan's size, the
    ETA) and the Start button; a batch that does not fit is refused whole, or its first rows on request."""
    found = runs.preview(services(), account_id, batch)
    st.subheader("Before anything is queued", anchor=False)
    with st.container(horizontal=True):
        st.metric("Jobs", f"{found.jobs:,}", border=True)
        st.metric("Images", f"{found.images:,}", border=True)
        st.metric("Credits", f"{found.credits:,}", border=True)
        st.metric("You have", f"{found.balance:,}", border=True)
        st.metric("Estimated time", eta_text(found.eta_seconds) if found.jobs else "—", border=True)
    st.caption(
        f"Your {components.escape(found.plan_name)} plan runs batches of up to "
        f"{found.allowance.batch_jobs:,} jobs, {found.allowance.slots} at a time. Credits are reserved "
        "for every row when the batch starts; a row that fails or is cancelled gives its credits back."
    )
    if not batch.rows:
        st.caption(
            ":material/info: Add rows above: each becomes one job, priced here before anything is queued."
        )
    if found.rows:
        st.dataframe(
            _table(found), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(found.rows))
        )
    for problem in found.problems[:20]:
        st.error(problem, icon=":material/error:")
    if len(found.problems) > 20:
        st.error(f"… and {len(found.problems) - 20} more problems.")
    _start_buttons(account_id, batch, found)


def _table(found: Preview) -> list[dict[str, Any]]:
    return [
        {
            "Row": row.number,
            "Prompt": components.excerpt(row.prompt, 120),
            "Model": row.model,
            "Seed": row.seed if row.seed is not None else "random",
            "Images": row.images,
            "Credits": row.credits,
            "Problem": row.problem,
        }
        for row in found.rows
    ]


def submission_key() -> str:
    return str(st.session_state.setdefault(_KEY, uuid.uuid4().hex))


def _start_buttons(account_id: uuid.UUID, batch: Draft, found: Preview) -> None:
    fit = False
    if found.ready and not found.affordable:
        billing_view.out_of_credits(
            f"This batch needs {_credits(found.credits)} and you have {found.balance:,}: it is refused whole."
        )
        if found.fits:
            fitted = sum(row.credits for row in found.rows[: found.fits])
            fit = st.button(
                f"Start only the first {found.fits} rows ({_credits(fitted)})", key="batch.start_fit",
                icon=":material/content_cut:",
            )  # fmt: skip
    start = st.button(
        f"Start batch of {found.jobs:,}" if found.jobs else "Start batch", type="primary",
        icon=":material/play_arrow:", disabled=not (found.ready and found.affordable), key="batch.start",
    )  # fmt: skip
    if not (start or fit):
        return
    try:
        batch_id = runs.start_batch(services(), account_id, batch, submission_key(), fit=fit)
    except InsufficientCredits as err:
        billing_view.out_of_credits(str(err))
    except StudioError as err:
        components.refusal(err)
    else:
        st.session_state[_KEY] = uuid.uuid4().hex
        st.session_state[SELECTED] = str(batch_id)
        components.flash_and_rerun("The batch is queued: its rows take their turns below.")
