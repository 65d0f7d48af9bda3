"""The Generate form: the model picker, the prompt, the cost preview, submission keys and "recall"."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import streamlit as st

from studio.domain.accounts import Account
from studio.domain.catalogue import NEGATIVE_PROMPT_MAX_CHARS, PROMPT_MAX_CHARS, ModelSpec
from studio.domain.credits import standard_image_credits
from studio.domain.parameters import Request
from studio.errors import InvalidParameters, StudioError
from studio.services.accounts import profile
from studio.services.generation import inputs, iterate, submissions
from studio.services.generation.submissions import Quote
from studio.ui.billing import billing_view
from studio.ui.generation import generate_params
from studio.ui.generation.generate_params import default, key
from studio.ui.shell import components
from studio.ui.shell.deps import services

MODEL = "gen.model"
PROMPT = "gen.prompt"
_SUBMISSION = "gen.submission"
_NOTICE = "gen.notice"
_DEFAULTS_APPLIED = "gen.defaults_applied"
_AGAIN = "gen.again"  # the last Generate was folded into the job just made: offer another run
PROJECT = "gen.project"
REFERENCE = "gen.reference"  # the id of the image a remix or an image-to-image model starts from
_UPLOADED = "gen.uploaded"  # the uploader's file id already taken in, so a rerun does not take it twice


def variable_key(name: str) -> str:
    """The widget of a template's variable on the form."""
    return f"gen.var.{name}"


def model_label(spec: ModelSpec) -> str:
    credits = standard_image_credits(spec)
    return f"{spec.name} · {credits} credit{'s' if credits != 1 else ''} · {spec.speed}"


def model_picker(models: list[ModelSpec]) -> ModelSpec:
    """Outside the form: picking a model reruns the page, which rebuilds the panel for it."""
    by_id = {spec.endpoint_id: spec for spec in models}
    if st.session_state.get(MODEL) not in by_id:
        st.session_state[MODEL] = models[0].endpoint_id
    chosen = st.selectbox(
        "Model", list(by_id), format_func=lambda endpoint: model_label(by_id[endpoint]), key=MODEL,
        help="Credits per one-megapixel image, and how fast the model is",
    )  # fmt: skip
    spec = by_id[str(chosen)]
    st.caption(spec.description)
    return spec


def request_inputs(spec: ModelSpec) -> Request:
    """The prompt (with the count shown while typing), the negative prompt where the model takes one, and
    the parameter panel."""
    prompt = st.text_area(
        "Prompt", key=default(PROMPT, ""), max_chars=PROMPT_MAX_CHARS, height=110,
        placeholder="A lighthouse on a basalt cliff at dusk, waves breaking, warm light in the windows",
        help=f"Up to {PROMPT_MAX_CHARS} characters; the count shows in the corner while you type",
    )  # fmt: skip
    negative = ""
    if spec.negative_prompt:
        negative = st.text_area(
            "Negative prompt", key=default(key(spec, "negative_prompt"), ""),
            max_chars=NEGATIVE_PROMPT_MAX_CHARS, height=68, placeholder="What to keep out of the image",
        ) or ""  # fmt: skip
    style, params = generate_params.panel(spec)
    return Request(spec.endpoint_id, prompt or "", negative, style, params)


def preview_quote(account_id: uuid.UUID, request: Request) -> Quote | InvalidParameters:
    """The cost of the settings as they stand. The price never depends on the prompt, so an empty or
    unfinished prompt is not reported here; Generate reports it."""
    try:
        return submissions.quote(services(), account_id, replace(request, prompt="preview"))
    except InvalidParameters as err:
        return err
    except StudioError as err:  # the reference image went away meanwhile, say
        return InvalidParameters([str(err)])


def _credits(count: int) -> str:
    return f"{count} credit{'s' if count != 1 else ''}"


def cost_preview(quote: Quote | InvalidParameters, account_id: uuid.UUID) -> None:
    """ "Uses N credits · you have M", or why it cannot be paid now (there are no paid plans yet)."""
    if isinstance(quote, InvalidParameters):
        balance = submissions.balance(services(), account_id)
        st.caption(f"The cost shows once the settings are valid · you have {_credits(balance)}")
    elif quote.affordable:
        st.markdown(f":material/toll: Uses **{_credits(quote.price.credits)}** · you have {quote.balance}")
    else:
        billing_view.out_of_credits(quote.refusal)
        if standard_image_credits(quote.spec) <= quote.balance:  # some cheaper settings would fit
            st.caption("Fewer images or a smaller size may fit now: Update cost shows the new price.")


def submission_key() -> str:
    """The idempotency key of the form as rendered: a double click submits the same key, so one job."""
    return str(st.session_state.setdefault(_SUBMISSION, uuid.uuid4().hex))


def rotate_submission_key() -> None:
    st.session_state[_SUBMISSION] = uuid.uuid4().hex


def repeated(job_started_at: datetime, submitted_at: datetime) -> None:
    """After Generate: a job made before this click means the same settings were just sent (a second click
    a rerender after the first): say so, and offer Run again for a deliberate second run."""
    if job_started_at < submitted_at:
        st.session_state[_AGAIN] = True
        st.session_state[_NOTICE] = (
            "Those settings were sent a moment ago: that job is shown, not charged twice. "
            "Press Run again for another one."
        )
    else:
        st.session_state.pop(_AGAIN, None)


def submit_buttons(can_pay: bool) -> str | None:
    """Generate (or Run again, after a repeated click), or only update the cost preview; None when the
    form was not submitted."""
    with st.container(horizontal=True):
        # Keyed by the submission key: a click from a render whose key was already used finds no button.
        generate = st.form_submit_button(
            "Generate", type="primary", icon=":material/auto_awesome:", disabled=not can_pay,
            key=f"gen.submit.{submission_key()}",
        )  # fmt: skip
        again = st.session_state.get(_AGAIN) and st.form_submit_button(
            "Run again", icon=":material/replay:", disabled=not can_pay, key=f"gen.again.{submission_key()}"
        )
        if again:
            return "again"
        check = st.form_submit_button("Update cost", icon=":material/calculate:", key="gen.check")
        keep = st.form_submit_button(
            "Save as my defaults", icon=":material/bookmark:", key="gen.defaults", type="tertiary",
            help="Open the Generate page with this model, style and settings (not the prompt or seed)",
        )  # fmt: skip
        batch = st.form_submit_button(
            "Run as batch", icon=":material/stacks:", key="gen.batch", type="tertiary",
            help="Open the Batch page with this model, its settings and this prompt (or template)",
        )  # fmt: skip
    if batch:
        return "batch"
    return "generate" if generate else "check" if check else "defaults" if keep else None


def fallback_picker(spec: ModelSpec, models: list[ModelSpec]) -> str | None:
    """A model of the same kind that reruns the job once if the provider fails it."""
    others = {
        m.endpoint_id: m.name
        for m in models
        if m.endpoint_id != spec.endpoint_id and m.operation == spec.operation
    }
    chosen = st.selectbox(
        "Fallback model", [None, *others], format_func=lambda endpoint: others.get(endpoint, "None"),
        key=f"gen.fallback.{spec.endpoint_id}",
        help="If the provider fails the job after its retries, it runs once more here, at this price",
    )  # fmt: skip
    return str(chosen) if chosen else None


def recall(request: Request, spec: ModelSpec | None) -> None:
    """on_click of a history row: put that job's exact request back, before the widgets are made."""
    state = st.session_state
    if spec is None:
        state[_NOTICE] = f"The model {request.model} is no longer available, so that job cannot be recalled."
        return
    state[_DEFAULTS_APPLIED] = True  # recalled from another page: the saved defaults must not replace it
    state[MODEL] = spec.endpoint_id
    state[PROMPT] = request.template or request.prompt  # a template comes back as the template
    for name, value in request.values.items():
        state[variable_key(name)] = value
    if spec.negative_prompt:
        state[key(spec, "negative_prompt")] = request.negative_prompt
    generate_params.restore(spec, request)
    if request.image_id:  # the image it started from comes back with it
        state[REFERENCE] = request.image_id
    else:
        state.pop(REFERENCE, None)
    state[_NOTICE] = "The job's prompt, model and settings are back in the form, with its seed locked."


def remix(request: Request, spec: ModelSpec | None) -> None:
    """Before switching to Generate: the image's exact request in the form, the image as its reference."""
    recall(request, spec)
    if spec is not None:
        st.session_state[REFERENCE] = request.image_id
        st.session_state[_NOTICE] = (
            "Remixing: the image's request is in the form, the image is its reference."
        )


def reference(account_id: uuid.UUID, spec: ModelSpec) -> str:
    """The image the request starts from (shown, with a way to drop it), or an uploader when the model
    needs one; the image's id, or "" for none."""
    chosen = st.session_state.get(REFERENCE) or ""
    if chosen:
        try:
            url = iterate.thumbnail_url(services(), account_id, uuid.UUID(chosen))
        except (StudioError, ValueError):
            st.session_state.pop(REFERENCE, None)
            chosen = ""
        else:
            with st.container(horizontal=True, vertical_alignment="center"):
                st.image(url, width=72)
                use = (
                    "its input image"
                    if spec.takes_image
                    else "the parent of what you make (this model takes no image)"
                )
                st.caption(f"Starting from this image: {use}.")
                if st.button("Drop", key="gen.reference.clear", type="tertiary", icon=":material/close:"):
                    st.session_state.pop(REFERENCE, None)
                    st.rerun()
    if spec.takes_image and not chosen:
        upload = st.file_uploader(
            "Input image", type=["png", "jpg", "jpeg", "webp"], key="gen.upload",
            help="PNG, JPEG or WebP, up to 20 MB and 40 megapixels; or Remix an image from your gallery",
        )  # fmt: skip
        if upload is not None and st.session_state.get(_UPLOADED) != upload.file_id:
            try:
                image_id = inputs.upload(services(), account_id, upload.getvalue())
            except StudioError as err:
                st.error(str(err))
            else:
                st.session_state[_UPLOADED] = upload.file_id
                st.session_state[REFERENCE] = chosen = str(image_id)
                st.rerun()
    return chosen


def use_project(project_id: uuid.UUID, name: str, defaults: Request | None, spec: ModelSpec | None) -> None:
    """Generate for a project: new images go into it, starting from its default model and settings."""
    state = st.session_state
    state[PROJECT] = (str(project_id), name)
    state[_DEFAULTS_APPLIED] = True
    if defaults is not None and spec is not None:
        state[MODEL] = spec.endpoint_id
        generate_params.restore(spec, defaults)
    state[_NOTICE] = f"New images go into the project {name}."


def project_target() -> tuple[uuid.UUID, str] | None:
    """The project new images go into, with a way out; None for none."""
    chosen = st.session_state.get(PROJECT)
    if not chosen:
        return None
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f":material/folder: New images go into the project **{components.escape(chosen[1])}**")
        if st.button("Stop", key="gen.project.clear", type="tertiary", icon=":material/close:"):
            del st.session_state[PROJECT]
            st.rerun()
    return uuid.UUID(chosen[0]), chosen[1]


def apply_defaults(account_id: uuid.UUID, models: list[ModelSpec]) -> None:
    """Once per session, before the widgets are made: start from the person's saved defaults."""
    if st.session_state.get(_DEFAULTS_APPLIED):
        return
    st.session_state[_DEFAULTS_APPLIED] = True
    saved = profile.defaults(services(), account_id)
    spec = next((m for m in models if saved and m.endpoint_id == saved.model), None)
    if saved is None or spec is None:  # none saved, or its model was switched off
        return
    st.session_state[MODEL] = spec.endpoint_id
    generate_params.restore(spec, saved)


def verification_notice(account: Account) -> None:
    if account.email_verified or not services().settings.require_email_verification:
        return
    st.info(submissions.UNVERIFIED, icon=":material/mark_email_unread:")
    st.page_link("pages/home.py", label="Send the link again from your Account page", icon=":material/send:")


def show_notice() -> None:
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.toast(notice, icon=":material/settings_backup_restore:")
