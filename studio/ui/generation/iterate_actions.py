"""Quick iteration wherever an image is shown: Variations, Regenerate, Remix, Upscale, Remove background,
Edit and Compare, each priced before it runs.

An operation starts an ordinary job (`studio.services.generation.iterate`); its progress shows in the panel
of the page it was started from (`started`) and on the Generate page, like any job.
"""

from __future__ import annotations

import uuid

import streamlit as st

from studio.domain.credits import Price
from studio.domain.generation import Operation
from studio.domain.iteration import MAX_VARIATIONS, UPSCALE_FACTORS, VARIATION_STRENGTH
from studio.errors import InsufficientCredits, StudioError
from studio.services.generation import catalogue, iterate, views
from studio.services.generation.iterate import Step
from studio.services.generation.views import JobView
from studio.ui.billing import billing_view
from studio.ui.generation import generate_form, generate_jobs
from studio.ui.shell.deps import services

EDIT_PAGE = "pages/edit.py"
COMPARE_PAGE = "pages/compare.py"
GENERATE_PAGE = "pages/generate.py"
_STARTED = "iter.started"  # job ids started from the image pages this session, newest first
_KEYS = "iter.keys"  # one idempotency key per (image, operation) until its job is accepted


def credits(count: int) -> str:
    return f"{count} credit{'s' if count != 1 else ''}"


def price_of(account_id: uuid.UUID, step: Step) -> Price | str:
    """The operation's price, or why it cannot run (said before anything is reserved)."""
    try:
        return iterate.price(services(), account_id, step)
    except StudioError as err:
        return str(err)


def _key(step: Step) -> str:
    keys: dict[str, str] = st.session_state.setdefault(_KEYS, {})
    return keys.setdefault(f"{step.image_id}:{step.operation.value}", uuid.uuid4().hex)


def start(account_id: uuid.UUID, step: Step, done: str) -> JobView | None:
    """Start the operation's job; the error in place when it is refused."""
    try:
        job = iterate.start(services(), account_id, step, _key(step))
    except InsufficientCredits as err:
        billing_view.out_of_credits(str(err))
        return None
    except StudioError as err:
        st.error(str(err))
        return None
    st.session_state[_KEYS].pop(f"{step.image_id}:{step.operation.value}", None)
    started = [str(job.id), *st.session_state.get(_STARTED, [])]
    st.session_state[_STARTED] = list(dict.fromkeys(started))[:10]
    generate_jobs.watch(job.id)
    st.toast(f"{done}: {credits(job.credits_reserved)} reserved", icon=":material/auto_awesome:")
    return job


def started(account_id: uuid.UUID) -> None:
    """The jobs started from the image pages this session, with live progress and their results."""
    ids = [uuid.UUID(value) for value in st.session_state.get(_STARTED, [])][: generate_jobs.SHOWN]
    jobs = []
    for job_id in ids:
        try:
            jobs.append(views.get_job(services(), account_id, job_id))
        except StudioError:
            continue
    if jobs:
        names = {spec.endpoint_id: spec.name for spec in catalogue.enabled_models(services())}
        generate_jobs.progress_panel(account_id, jobs, names)


def _cost_caption(cost: Price | str) -> bool:
    """The price under an action, or why it cannot run; whether it can."""
    if isinstance(cost, str):
        st.caption(f":material/block: {cost}")
        return False
    st.caption(f"{credits(cost.credits)}")
    return True


def _variations(account_id: uuid.UUID, image_id: uuid.UUID, key: str, rerun: bool) -> None:
    with st.popover("Variations", icon=":material/auto_awesome_motion:"):
        count = (
            st.segmented_control(
                "How many", list(range(1, MAX_VARIATIONS + 1)), default=2, key=f"{key}.var.count"
            )
            or 1
        )
        close = st.toggle(
            "Stay close to this image", key=f"{key}.var.close",
            help="Image-to-image from this picture instead of the same request with new seeds",
        )  # fmt: skip
        strength = None
        if close:
            low, high = VARIATION_STRENGTH
            strength = st.slider(
                "Strength", low, high, 0.5, 0.05, key=f"{key}.var.strength",
                help="Low keeps the composition; high lets it move further",
            )  # fmt: skip
        step = Step(Operation.VARIATION, image_id, count=int(count), strength=strength)
        can = _cost_caption(price_of(account_id, step))
        if st.button(f"Make {count}", key=f"{key}.var.go", type="primary", disabled=not can):
            _run(account_id, step, f"{count} variation{'s' if count != 1 else ''} started", rerun)


def _upscale(account_id: uuid.UUID, image_id: uuid.UUID, key: str, rerun: bool) -> None:
    with st.popover("Upscale", icon=":material/zoom_out_map:"):
        factor = (
            st.segmented_control(
                "Factor",
                list(UPSCALE_FACTORS),
                default=2,
                format_func=lambda f: f"{f}×",
                key=f"{key}.up.factor",
            )
            or 2
        )
        st.caption("8× is not offered: the upscaler goes up to 4×.")
        step = Step(Operation.UPSCALE, image_id, factor=int(factor))
        can = _cost_caption(price_of(account_id, step))
        if st.button(f"Upscale {factor}×", key=f"{key}.up.go", type="primary", disabled=not can):
            _run(account_id, step, f"Upscale {factor}× started", rerun)


def _one_click(account_id: uuid.UUID, step: Step, label: str, icon: str, key: str, rerun: bool) -> None:
    cost = price_of(account_id, step)
    tip = credits(cost.credits) if isinstance(cost, Price) else cost
    if st.button(label, key=key, icon=icon, help=tip, disabled=isinstance(cost, str)):
        _run(account_id, step, f"{label} started", rerun)


def _run(account_id: uuid.UUID, step: Step, done: str, rerun: bool) -> None:
    if start(account_id, step, done) is not None and rerun:
        st.rerun()


def remix(account_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Open Generate with the image's exact request and the image as its reference."""
    try:
        request = iterate.remix(services(), account_id, image_id)
    except StudioError as err:
        st.error(str(err))
        return
    models = {spec.endpoint_id: spec for spec in catalogue.generators(services())}
    generate_form.remix(request, models.get(request.model))
    st.switch_page(GENERATE_PAGE)


def quick_actions(
    account_id: uuid.UUID, image_id: uuid.UUID, *, key: str, parent_id: uuid.UUID | None = None,
    rerun: bool = True,
) -> None:  # fmt: skip
    """Every way on from this image, in one row."""
    with st.container(horizontal=True, gap="small"):
        _variations(account_id, image_id, key, rerun)
        _one_click(
            account_id, Step(Operation.REGENERATE, image_id), "Regenerate", ":material/refresh:",
            f"{key}.regen", rerun,
        )  # fmt: skip
        if st.button("Remix", key=f"{key}.remix", icon=":material/tune:",
                     help="Open Generate with this image's request and the image as reference"):  # fmt: skip
            remix(account_id, image_id)
        _upscale(account_id, image_id, key, rerun)
        _one_click(
            account_id, Step(Operation.REMOVE_BACKGROUND, image_id), "Remove background",
            ":material/background_replace:", f"{key}.bg", rerun,
        )  # fmt: skip
        st.page_link(EDIT_PAGE, label="Edit", icon=":material/brush:", query_params={"id": str(image_id)})
        if parent_id is not None:
            st.page_link(
                COMPARE_PAGE, label="Compare with parent", icon=":material/compare:",
                query_params={"ids": f"{parent_id},{image_id}"},
            )  # fmt: skip
