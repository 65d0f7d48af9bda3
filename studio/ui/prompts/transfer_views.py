"""Import and export of the prompt library."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.errors import StudioError
from studio.services.prompts import transfer
from studio.ui.shell import components
from studio.ui.shell.deps import services

_TAKEN = "prompts.import_file"  # the upload already imported: a rerun does not import it twice


def section(account_id: uuid.UUID) -> None:
    svc = services()
    st.markdown("**Export**")
    with st.container(horizontal=True):
        st.download_button(
            "Everything (JSON)",
            lambda: transfer.export_json(svc, account_id),
            file_name="prompt-library.json",
            mime="application/json",
            icon=":material/download:",
        )
        st.download_button(
            "Prompts (CSV)",
            lambda: transfer.export_csv(svc, account_id),
            file_name="prompts.csv",
            mime="text/csv",
            icon=":material/download:",
        )
        st.download_button(
            "Styles (A1111 styles.csv)",
            lambda: transfer.export_styles(svc, account_id),
            file_name="styles.csv",
            mime="text/csv",
            icon=":material/download:",
        )
    st.markdown("**Import**")
    st.caption(
        "Our JSON or CSV (name,prompt,negative_prompt,category,tags), A1111's styles.csv, InvokeAI's "
        "style-preset "
        "CSV, or a .txt wildcard list (one entry a line). Everything valid is taken at once, or nothing."
    )
    upload = st.file_uploader("A library file", type=["json", "csv", "txt"], key="prompts.import")
    if upload is None or st.session_state.get(_TAKEN) == upload.file_id:
        return
    try:
        done = transfer.import_file(svc, account_id, upload.getvalue(), upload.name)
    except StudioError as err:
        st.error(str(err))
        return
    st.session_state[_TAKEN] = upload.file_id
    st.success(f"Imported ({done.format}): {done.prompts} prompts, {done.styles} styles, {done.lists} lists.")
    if done.refused:
        st.warning(f"Refused {len(done.refused)}:")
        for refusal in done.refused[:50]:
            where = f"line {refusal.line}: " if refusal.line else ""
            st.caption(components.escape(f"{where}{refusal.reason}"))
