"""Generate: describe an image, pick a model and its settings, watch the job, keep the images."""

from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st

from studio.domain.batches import Priority
from studio.errors import InsufficientCredits, InvalidParameters, StudioError
from studio.services.accounts import profile
from studio.services.generation import catalogue, submissions, views
from studio.ui.billing import billing_view
from studio.ui.generation import generate_form, generate_jobs, iterate_actions
from studio.ui.prompts import pickers
from studio.ui.shell import session
from studio.ui.shell.deps import services

BATCH_PAGE_REQUEST = "batch.from_generate"  # what the Batch page takes in (studio.ui.batches)
account = session.require_account()
st.title("Generate", anchor=False)
models = catalogue.generators(services())
if not models:
    st.info("No model is switched on yet: an administrator enables models in the catalogue.")
    st.stop()
generate_form.show_notice()
billing_view.plan_notice(account.id)
generate_form.verification_notice(account)
generate_form.apply_defaults(account.id, models)

form_side, results_side = st.columns([11, 9], gap="large")
with form_side:
    project = generate_form.project_target()
    spec = generate_form.model_picker(models)
    reference = generate_form.reference(account.id, spec)
    pickers.library_picker(account.id)
    pickers.style_chips(account.id)
    with st.form("gen.form", enter_to_submit=False):
        request = replace(generate_form.request_inputs(spec), image_id=reference)
        values = pickers.template_panel(account.id, request.prompt)
        if values is not None:  # a template: expanded when the job is accepted, its pick seed kept
            request = replace(request, template=request.prompt, values=values)
        pickers.weights_note(spec, request.prompt)
        fallback = generate_form.fallback_picker(spec, models)
        quote = generate_form.preview_quote(account.id, request)
        generate_form.cost_preview(quote, account.id)
        # Invalid settings keep Generate on: pressing it reports what to fix.
        action = generate_form.submit_buttons(isinstance(quote, InvalidParameters) or quote.affordable)
        with st.expander("Save as preset", icon=":material/bookmark_add:"):
            preset_name = st.text_input("Preset name", max_chars=100, key="gen.preset_name")
            keep_prompt = st.checkbox("With the prompt", key="gen.preset_prompt")
            if st.form_submit_button("Save as preset", key="gen.preset_save"):
                action = "preset"
    pickers.suggestions(spec)
    if action in ("generate", "again"):
        submitted_at = datetime.now(UTC)
        try:
            job = submissions.start_generation(
                services(), account.id, request, generate_form.submission_key(),
                project_id=project[0] if project else None, again=action == "again",
                fallback_model=fallback, priority=Priority.HIGH,  # before the person's own batches
            )  # fmt: skip
        except InsufficientCredits as err:
            billing_view.out_of_credits(str(err))
        except StudioError as err:
            st.error(str(err))
        else:
            pickers.record_use(account.id, request.template or request.prompt)
            generate_form.rotate_submission_key()
            generate_form.repeated(job.created_at, submitted_at)
            generate_jobs.watch(job.id)
            st.rerun()
    elif action == "defaults":
        try:
            saved = profile.save_defaults(services(), account.id, request)
        except StudioError as err:
            st.error(str(err))
        else:
            st.toast(
                f"Saved: {saved.model_name} with these settings opens the Generate page.",
                icon=":material/bookmark:",
            )
    elif action == "batch":
        st.session_state[BATCH_PAGE_REQUEST] = request.to_json()
        st.switch_page("pages/batch.py")
    elif action == "preset":
        pickers.save_preset(account.id, preset_name or "", request, keep_prompt)
    elif isinstance(quote, InvalidParameters):
        st.error(str(quote))

recent = views.recent_jobs(services(), account.id, limit=10)
names = {model.endpoint_id: model.name for model in catalogue.enabled_models(services())}
with results_side:
    generate_jobs.progress_panel(
        account.id, generate_jobs.shown(recent), names,
        lambda image_id, parent_id: iterate_actions.quick_actions(
            account.id, image_id, key=f"gen.iter.{image_id}", parent_id=parent_id
        ),
    )  # fmt: skip

st.divider()
generate_jobs.history(recent, models)
