"""The prompt library (`/prompts`): saved prompts and templates, the public library, prompt history,
wildcard lists, style modifiers, presets, import and export, and phrasing suggestions by model."""

import streamlit as st

from studio.services.generation import catalogue
from studio.ui.prompts import library_views, transfer_views
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Prompt library", anchor=False)
sections = st.tabs(
    [
        "My prompts",
        "History",
        "Public",
        "Wildcard lists",
        "Styles",
        "Presets",
        "Import / export",
        "Suggestions",
    ]
)
with sections[0]:
    library_views.my_prompts(account.id)
with sections[1]:
    library_views.prompt_history(account.id)
with sections[2]:
    library_views.public_library(account)
with sections[3]:
    library_views.lists(account.id)
with sections[4]:
    library_views.style_modifiers(account)
with sections[5]:
    library_views.preset_list(account.id)
with sections[6]:
    transfer_views.section(account.id)
with sections[7]:
    library_views.suggestions([spec.endpoint_id for spec in catalogue.generators(services())])
