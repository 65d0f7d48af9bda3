"""The prompt library page's sections: my prompts, the public library, history, lists, styles, presets.

Text people typed (titles, prompts, list entries) is shown as text: `st.text`/`st.code` or escaped
markdown, never live markdown or HTML.
"""

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st

from studio.domain.accounts import Account
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.prompts import Modifier, PromptForm, Sort, suggestions_for, tags_of
from studio.services.prompts import history, library, presets, styles, wildcards
from studio.services.prompts.library import PromptQuery, PromptView
from studio.ui.prompts import pickers
from studio.ui.shell import components
from studio.ui.shell.components import escape
from studio.ui.shell.deps import services

_SORTS = {Sort.RECENT: "Recent", Sort.MOST_USED: "Most used", Sort.NAME: "Name"}


def _form_fields(key: str, prompt: PromptView | None = None) -> PromptForm:
    title = st.text_input("Title", value=prompt.title if prompt else "", max_chars=200, key=f"{key}.title")
    text = st.text_area(
        "Prompt",
        value=prompt.text if prompt else "",
        max_chars=2000,
        height=100,
        key=f"{key}.text",
        help="A plain prompt, or a template: {a|b} picks one, __list__ draws from a list, ${subject} is a "
        "field on Generate",
    )
    negative = st.text_input(
        "Negative prompt", value=prompt.negative_prompt if prompt else "", max_chars=1000, key=f"{key}.neg"
    )
    left, right = st.columns(2)
    category = left.text_input(
        "Category", value=prompt.category if prompt else "", max_chars=64, key=f"{key}.cat"
    )
    tags = right.text_input(
        "Tags", value=", ".join(prompt.tags) if prompt else "", key=f"{key}.tags", help="Comma-separated"
    )
    favourite = st.checkbox("Favourite", value=prompt.favourite if prompt else False, key=f"{key}.fav")
    return PromptForm(title or "", text or "", negative or "", category or "", tags_of(tags or ""), favourite)


def new_prompt(account_id: uuid.UUID) -> None:
    with st.expander("New prompt", icon=":material/add:"), st.form("prompts.new", clear_on_submit=True):
        form = _form_fields("prompts.new")
        if st.form_submit_button("Save to the library", type="primary", icon=":material/bookmark_add:"):
            components.act(
                lambda: library.create(services(), account_id, form), lambda p: f"Saved: {escape(p.title)}"
            )


def _card(account_id: uuid.UUID, prompt: PromptView) -> None:
    svc = services()
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{escape(prompt.title)}**")
            if prompt.is_template:
                st.badge("Template", icon=":material/data_object:", color="blue")
            if prompt.is_public:
                st.badge("Public", icon=":material/public:", color="green")
            if prompt.category:
                st.badge(escape(prompt.category), color="gray")
            st.caption(f"used {prompt.use_count}× · {components.ago(prompt.updated_at)}")
        st.code(prompt.text, language=None, wrap_lines=True)
        if prompt.negative_prompt:
            st.caption(f"Negative: {escape(prompt.negative_prompt)}")
        if prompt.tags:
            st.caption(" · ".join(escape(tag) for tag in prompt.tags))
        with st.container(horizontal=True, gap="small"):
            if st.button(
                "Use on Generate", key=f"p.use.{prompt.id}", icon=":material/auto_awesome:", type="primary"
            ):
                pickers.use_prompt(prompt)
            heart = "Unfavourite" if prompt.favourite else "Favourite"
            if st.button(heart, key=f"p.fav.{prompt.id}", icon=":material/favorite:"):
                components.act(
                    lambda: library.set_favourite(svc, account_id, prompt.id, not prompt.favourite),
                    f"{heart}d",
                )
            with st.popover("Edit", icon=":material/edit:"), st.form(f"p.edit.{prompt.id}"):
                form = _form_fields(f"p.edit.{prompt.id}", prompt)
                if st.form_submit_button("Save", type="primary"):
                    components.act(lambda: library.update(svc, account_id, prompt.id, form), "Saved")
            if st.button("Duplicate", key=f"p.dup.{prompt.id}", icon=":material/content_copy:"):
                components.act(lambda: library.duplicate(svc, account_id, prompt.id), "Duplicated")
            share = "Make private" if prompt.is_public else "Publish"
            if st.button(
                share,
                key=f"p.pub.{prompt.id}",
                icon=":material/public:",
                help="Anyone signed in can browse and copy a public prompt",
            ):
                components.act(
                    lambda: library.publish(svc, account_id, prompt.id, not prompt.is_public),
                    "Published" if not prompt.is_public else "Made private",
                )
            if st.button("Delete", key=f"p.del.{prompt.id}", icon=":material/delete:", type="tertiary"):
                components.act(lambda: library.delete(svc, account_id, prompt.id), "Deleted")


def my_prompts(account_id: uuid.UUID) -> None:
    new_prompt(account_id)
    categories, tags = library.categories_and_tags(services(), account_id)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        search = st.text_input("Search", key="prompts.q", placeholder="Words in the title or prompt")
        category = st.selectbox(
            "Category", ["", *categories], format_func=lambda c: c or "Any", key="prompts.cat"
        )
        tag = st.selectbox("Tag", ["", *tags], format_func=lambda t: t or "Any", key="prompts.tag")
        sort = st.segmented_control(
            "Sort", list(_SORTS), format_func=_SORTS.__getitem__, default=Sort.RECENT, key="prompts.sort"
        )
        favourites = st.toggle("Favourites", key="prompts.favs")
    query = PromptQuery(search or "", category or "", tag or "", favourites, sort or Sort.RECENT)
    found = library.prompts(services(), account_id, query)
    if not found:
        st.info(
            "No prompts match."
            if (search or category or tag or favourites)
            else "Your library is empty: save a prompt here, from your history or from Generate."
        )
    for prompt in found:
        _card(account_id, prompt)


def public_library(account: Account) -> None:
    svc = services()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        search = st.text_input("Search the public library", key="public.q")
        sort = st.segmented_control(
            "Sort", list(_SORTS), format_func=_SORTS.__getitem__, default=Sort.RECENT, key="public.sort"
        )
    found = library.public_prompts(svc, search or "", sort or Sort.RECENT)
    if not found:
        st.info("Nothing is public yet: publish a prompt of yours to share it with everyone here.")
    for prompt in found:
        with st.container(border=True):
            st.markdown(f"**{escape(prompt.title)}** · by {escape(prompt.author)}")
            st.code(prompt.text, language=None, wrap_lines=True)
            with st.container(horizontal=True, gap="small"):
                if st.button(
                    "Copy to my library", key=f"pub.copy.{prompt.id}", icon=":material/library_add:"
                ):
                    components.act(
                        partial(library.copy_public, svc, account.id, prompt.id), "Copied to your library"
                    )
                if account.is_admin:
                    with st.popover("Take down", icon=":material/block:"):
                        reason = st.text_input("Why (kept in the audit log)", key=f"pub.why.{prompt.id}")
                        if st.button("Take it down", key=f"pub.down.{prompt.id}", type="primary"):
                            components.act(
                                partial(library.unpublish, svc, account.id, prompt.id, reason or ""),
                                "Taken down",
                            )


def prompt_history(account_id: uuid.UUID) -> None:
    search = st.text_input("Search your history", key="history.q")
    rows = history.history(services(), account_id, search or "")
    if not rows:
        st.info("No prompt run yet." if not search else "No prompt in your history matches.")
    for index, row in enumerate(rows):
        with st.container(border=True):
            st.code(row.prompt, language=None, wrap_lines=True)
            images = f"{row.images} image{'s' if row.images != 1 else ''}"
            st.caption(
                f"{images} · {row.runs} run{'s' if row.runs != 1 else ''} · "
                f"{components.ago(row.last_used_at)}"
            )
            with st.container(horizontal=True, gap="small"):
                if st.button("Use again", key=f"h.use.{index}", icon=":material/replay:"):
                    pickers.use_request(row.request)
                with st.popover("Save to library", icon=":material/bookmark_add:"):
                    text = row.request.template or row.prompt
                    title = st.text_input("Title", value=components.excerpt(text, 60), key=f"h.title.{index}")
                    if st.button("Save", key=f"h.save.{index}", type="primary"):
                        form = PromptForm(title or "", text, row.request.negative_prompt)
                        components.act(
                            partial(library.create, services(), account_id, form), "Saved to the library"
                        )


def lists(account_id: uuid.UUID) -> None:
    st.caption(
        "A template draws one entry of a list with `__name__`, e.g. `a __animal__ in the snow`. "
        "One entry a line; # starts a comment."
    )
    svc = services()
    for item in wildcards.lists(svc, account_id):
        with st.expander(escape(f"__{item.name}__ · {len(item.entries)} entries")):
            with st.form(f"list.{item.id}"):
                text = st.text_area(
                    "Entries", value="\n".join(item.entries), height=160, key=f"list.t.{item.id}"
                )
                if st.form_submit_button("Save"):
                    components.act(partial(wildcards.save, svc, account_id, item.name, text or ""), "Saved")
            if st.button(
                "Delete the list", key=f"list.del.{item.id}", type="tertiary", icon=":material/delete:"
            ):
                components.act(partial(wildcards.delete, svc, account_id, item.id), "Deleted")
    with st.form("list.new", clear_on_submit=True):
        st.markdown("**New list**")
        name = st.text_input("Name", placeholder="animal", help="Letters, digits, _ - or /")
        text = st.text_area("Entries", height=120, placeholder="fox\nowl\nred deer")
        upload = st.file_uploader("…or a text file (its name is the list's)", type=["txt"])
        if st.form_submit_button("Save the list", type="primary"):
            if upload is not None:
                raw = upload.getvalue().decode("utf-8", errors="replace")
                list_name = name or upload.name.rsplit(".", 1)[0]
                components.act(
                    lambda: wildcards.save(svc, account_id, list_name, raw), escape(f"Saved __{list_name}__")
                )
            else:
                components.act(lambda: wildcards.save(svc, account_id, name or "", text or ""), "Saved")


def style_modifiers(account: Account) -> None:
    svc = services()
    st.caption(
        "Quick-add chips on Generate. With {prompt} a style wraps your prompt; without, it is added after "
        "a comma."
    )
    for view in styles.modifiers(svc, account.id, all_studio=account.is_admin):
        modifier = view.modifier
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{escape(modifier.name)}** · {escape(modifier.category)}")
            st.caption(escape(modifier.text))
            if view.mine:
                if st.button("Delete", key=f"style.del.{view.id}", type="tertiary"):
                    components.act(partial(styles.delete, svc, account.id, view.id), "Deleted")
            elif account.is_admin:
                label = "Switch off" if view.enabled else "Switch on"
                if st.button(label, key=f"style.on.{view.id}", type="tertiary"):
                    components.act(
                        partial(styles.set_studio_style_enabled, svc, account.id, view.id, not view.enabled),
                        "Saved",
                    )
    with st.form("style.new", clear_on_submit=True):
        st.markdown("**New style**")
        name = st.text_input("Name", max_chars=64)
        text = st.text_input("Text", max_chars=500, placeholder="cinematic still of {prompt}, anamorphic")
        category = st.text_input("Category", max_chars=64, placeholder="Mine")
        for_everyone = account.is_admin and st.checkbox("For everyone (a studio style)")
        if st.form_submit_button("Add the style", type="primary"):
            modifier = Modifier(name or "", text or "", category or "")
            if for_everyone:
                components.act(
                    lambda: styles.add_studio_style(svc, account.id, modifier), "Added for everyone"
                )
            else:
                components.act(lambda: styles.add(svc, account.id, modifier), "Added")


def preset_list(account_id: uuid.UUID) -> None:
    svc = services()
    found = presets.presets(svc, account_id)
    if not found:
        st.info("No presets yet: on Generate, Save as preset keeps a model with its settings under a name.")
    for preset in found:
        spec = BY_ENDPOINT.get(preset.request.model)
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{escape(preset.name)}** · {escape(spec.name if spec else preset.request.model)}")
            if preset.request.prompt or preset.request.template:
                st.caption(escape(components.excerpt(preset.request.template or preset.request.prompt, 80)))
            if st.button("Use on Generate", key=f"preset.use.{preset.id}", icon=":material/auto_awesome:"):
                pickers.use_request(preset.request)
            if st.button("Delete", key=f"preset.del.{preset.id}", type="tertiary"):
                components.act(partial(presets.delete, svc, account_id, preset.id), "Deleted")


def suggestions(models: list[str]) -> None:
    for endpoint in models:
        spec = BY_ENDPOINT.get(endpoint)
        if spec is None:
            continue
        st.markdown(f"**{escape(spec.name)}**")
        for phrasing in suggestions_for(endpoint):
            st.caption(f"· {escape(phrasing)}")
