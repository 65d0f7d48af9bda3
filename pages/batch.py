"""Batches: many prompts, seeds and models in one go, priced before anything is queued, then followed as
one group each (counts, progress and ETA, pause, resume, cancel the rest, retry, export)."""

import streamlit as st

from studio.domain.batches import RowsError
from studio.services.generation import catalogue
from studio.ui.batches import batch_form, batch_views
from studio.ui.billing import billing_view
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Batches", anchor=False)
models = catalogue.generators(services())
if not models:
    st.info("No model is switched on yet: an administrator enables models in the catalogue.")
    st.stop()
billing_view.plan_notice(account.id)
fresh = batch_form.take_from_generate(models)
allowance = batch_form.allowance(account.id)
started = batch_views.has_batches(account.id)
if started:  # what runs comes first; the form folds away below it
    st.subheader("Your batches", anchor=False)
    batch_views.batch_list(account.id)
with st.expander("New batch", icon=":material/add_circle:", expanded=fresh or not started):
    draft = batch_form.draft(account.id, models, allowance.batch_jobs)
    if isinstance(draft, RowsError):
        for problem in draft.problems[:20]:
            st.error(problem, icon=":material/error:")
    else:
        batch_form.preview_and_start(account.id, draft)
