"""The prompt library on Generate: pick a prompt or a preset, quick-add style chips, fill in a template's
variables and see what it expands to, a note where the model would read weights as text, suggestions."""

from __future__ import annotations

import uuid
from dataclasses import replace

import streamlit as st

from studio.domain.catalogue import ModelSpec
from studio.domain.parameters import Request
from studio.domain.prompts import apply_modifier, has_weights, suggestions_for
from studio.domain.templates import TemplateError, has_syntax, parse, variables
from studio.errors import StudioError
from studio.services.generation import catalogue
from studio.services.prompts import library, presets, styles, templates
from studio.services.prompts.library import PromptQuery, PromptView
from studio.ui.generation import generate_form
from studio.ui.generation.generate_form import MODEL, PROMPT, variable_key
from studio.ui.generation.generate_params import key
from studio.ui.shell import components
from studio.ui.shell.deps import services

GENERATE_PAGE = "pages/generate.py"
FROM_LIBRARY = "gen.library_prompt"  # the id of the library prompt in the form, counted as used on Generate
_CHIPS = "gen.chips"
_FAMILY = "gen.chip_family"
_PICK = "gen.pick"
_PRESET = "gen.preset"


def _set_prompt(prompt: PromptView) -> None:
    state = st.session_state
    state[PROMPT] = prompt.text
    spec = next((m for m in catalogue.generators(services()) if m.endpoint_id == state.get(MODEL)), None)
    if spec is not None and spec.negative_prompt:
        state[key(spec, "negative_prompt")] = prompt.negative_prompt
    state[FROM_LIBRARY] = str(prompt.id)


def use_prompt(prompt: PromptView) -> None:
    """From the library page: open Generate with this prompt in the form."""
    _set_prompt(prompt)
    st.switch_page(GENERATE_PAGE)


def use_request(request: Request) -> None:
    """From history or a preset: open Generate with this request in the form (a preset keeps no seed)."""
    models = {spec.endpoint_id: spec for spec in catalogue.generators(services())}
    generate_form.recall(request, models.get(request.model))
    st.switch_page(GENERATE_PAGE)


def library_picker(account_id: uuid.UUID) -> None:
    """Outside the form: a prompt or a preset from the library into the form."""
    found = library.prompts(services(), account_id, PromptQuery())
    saved = presets.presets(services(), account_id)
    if not (found or saved):
        return
    by_id = {str(prompt.id): prompt for prompt in found}
    by_preset = {str(preset.id): preset for preset in saved}

    def picked() -> None:
        chosen = by_id.get(st.session_state.get(_PICK) or "")
        if chosen is not None:
            _set_prompt(chosen)
        st.session_state[_PICK] = None

    def preset_picked() -> None:
        chosen = by_preset.get(st.session_state.get(_PRESET) or "")
        st.session_state[_PRESET] = None
        if chosen is None:
            return
        models = {spec.endpoint_id: spec for spec in catalogue.generators(services())}
        request = chosen.request
        if not (request.prompt or request.template):  # a preset without a prompt keeps the one typed
            request = replace(request, prompt=str(st.session_state.get(PROMPT) or ""))
        generate_form.recall(request, models.get(request.model))

    with st.container(horizontal=True):
        if found:
            st.selectbox(
                "From the library",
                list(by_id),
                index=None,
                key=_PICK,
                on_change=picked,
                format_func=lambda value: by_id[value].title,
                placeholder="Pick a saved prompt or template",
            )
        if saved:
            st.selectbox(
                "Preset",
                list(by_preset),
                index=None,
                key=_PRESET,
                on_change=preset_picked,
                format_func=lambda value: by_preset[value].name,
                placeholder="Apply a preset",
            )


def style_chips(account_id: uuid.UUID) -> None:
    """Quick-add chips, a family at a time: a click adds the style to the prompt in the form (wrapping it,
    or after a comma)."""
    found = styles.modifiers(services(), account_id)
    if not found:
        return
    families = list(dict.fromkeys(view.modifier.category for view in found))
    family = st.segmented_control(
        "Add a style", families, default=families[0], key=_FAMILY, format_func=components.escape,
        help="Lighting, camera, medium, art style and quality boosters; add your own in the Prompt library",
    ) or families[0]  # fmt: skip
    by_name = {view.modifier.name: view.modifier for view in found if view.modifier.category == family}

    def add() -> None:
        chosen = st.session_state.get(_CHIPS)
        modifier = by_name.get(chosen or "")
        if modifier is not None:
            st.session_state[PROMPT] = apply_modifier(str(st.session_state.get(PROMPT) or ""), modifier)
        st.session_state[_CHIPS] = None

    st.pills(
        f"{family} styles", list(by_name), key=_CHIPS, on_change=add, selection_mode="single",
        format_func=components.escape, label_visibility="collapsed",
    )  # fmt: skip


def template_panel(account_id: uuid.UUID, text: str) -> dict[str, str] | None:
    """Inside the form, for a prompt written as a template: a field for each variable, how many prompts it
    makes and one it makes; the values filled in, or None for a plain prompt."""
    if not has_syntax(text):
        return None
    try:
        found = variables(parse(text))
    except TemplateError as err:
        st.error(f":material/data_object: {components.escape(str(err))}")
        return {}
    values: dict[str, str] = {}
    for variable in found:
        values[variable.name] = (
            st.text_input(
                f"${{{variable.name}}}",
                value=variable.default or "",
                key=variable_key(variable.name),
                help="A variable of the template",
            )
            or ""
        )
    shown = templates.preview(services(), account_id, text, values)
    if shown.error:
        st.error(f":material/data_object: {components.escape(shown.error)}")
        return values
    st.caption(
        f":material/data_object: A template: {shown.count:,} possible "
        f"prompt{'s' if shown.count != 1 else ''}; "
        "each job picks one (its pick seed is kept with the job). For example:"
    )
    st.code(shown.example, language=None, wrap_lines=True)
    return values


def weights_note(spec: ModelSpec, text: str) -> None:
    if has_weights(text) and not spec.reads_weights:
        st.caption(
            f":material/info: {spec.name} reads (word:1.2) as words: the weights are left out of what is "
            "sent "
            "(SDXL models read them)."
        )


def suggestions(spec: ModelSpec) -> None:
    with st.expander(f"Phrasing that works with {spec.name}", icon=":material/lightbulb:"):
        for phrasing in suggestions_for(spec.endpoint_id):
            st.caption(f"· {components.escape(phrasing)}")


def record_use(account_id: uuid.UUID, sent_prompt: str) -> None:
    """After a job is accepted: one more use of the library prompt that was in the form, if it still is."""
    prompt_id = st.session_state.pop(FROM_LIBRARY, None)
    if not prompt_id:
        return
    try:
        prompt = library.get(services(), account_id, uuid.UUID(prompt_id))
        if prompt.text.strip() in sent_prompt:
            library.record_use(services(), account_id, prompt.id)
    except StudioError:
        return


def save_preset(account_id: uuid.UUID, name: str, request: Request, keep_prompt: bool) -> None:
    try:
        saved = presets.save(services(), account_id, name, request, keep_prompt=keep_prompt)
    except StudioError as err:
        st.error(str(err))
    else:
        st.toast(f"Preset saved: {components.escape(saved.name)}", icon=":material/bookmark:")
