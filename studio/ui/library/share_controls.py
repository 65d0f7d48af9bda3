"""Share links as their owner manages them (create, copy, revoke) and as a visitor opens them."""

from __future__ import annotations

import uuid

import streamlit as st

from studio.domain.sharing import ShareOptions, ShareTarget
from studio.errors import (
    NotFound,
    PasswordRequired,
    RateLimited,
    StudioError,
    TooManyAttempts,
    WrongCredentials,
)
from studio.services.library import sharing
from studio.services.library.sharing import SharedView
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

_EXPIRY = {1: "1 day", 7: "7 days", 30: "30 days", 0: "Never"}


def panel(owner_id: uuid.UUID, target: ShareTarget, target_id: uuid.UUID, key: str) -> None:
    """A form for a new link, then the links to this target with their views and a revoke button."""
    with st.form(f"{key}.share", border=False):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            days = st.selectbox("Expires after", list(_EXPIRY), index=1, format_func=_EXPIRY.__getitem__)
            password = st.text_input("Password (optional)", type="password", max_chars=72)
            download = st.checkbox("Allow downloads", value=True)
        if st.form_submit_button("Create share link", icon=":material/share:"):
            try:
                options = ShareOptions(days or None, password or None, bool(download))
                made = sharing.create_share(services(), owner_id, target, target_id, options)
            except StudioError as err:
                st.error(str(err))
            else:
                st.success("Link created: anyone with it can open this, without an account.")
                st.code(made.url, language=None)
    for link in sharing.shares_of(services(), owner_id, target_id):
        with st.container(horizontal=True, vertical_alignment="center", border=True):
            state = "active" if link.active else "revoked" if link.revoked_at else "expired"
            expiry = f"until {link.expires_at:%d %b %Y}" if link.expires_at else "no expiry"
            lock = " · password" if link.has_password else ""
            st.markdown(f"`{link.url}`  \n{state} · {expiry}{lock} · {link.view_count} views")
            if link.active and st.button("Revoke", key=f"{key}.revoke.{link.id}", icon=":material/link_off:"):
                try:
                    sharing.revoke_share(services(), owner_id, link.id)
                except StudioError as err:
                    st.error(str(err))
                else:
                    st.rerun()


def _counted(token: str) -> bool:
    """A visit counts once per browser session, however often the page reruns."""
    seen: set[str] = st.session_state.setdefault("shared.seen", set())
    first = token not in seen
    seen.add(token)
    return first


def open_link(token: str) -> SharedView | None:
    """The shared content, asking for the password when the link has one; None when it cannot be shown."""
    password = st.session_state.get(f"shared.pw.{token}")
    try:
        return sharing.open_share(
            services(), token, password, count_view=_counted(token), address=session.client_address()
        )
    except NotFound as err:
        st.error(str(err), icon=":material/link_off:")
    except (TooManyAttempts, RateLimited) as err:
        st.error(str(err), icon=":material/lock_clock:")
    except (PasswordRequired, WrongCredentials) as err:
        if isinstance(err, WrongCredentials):
            st.error(str(err))
        with st.form("shared.password"):
            typed = st.text_input("Password", type="password", max_chars=72)
            if st.form_submit_button("Open"):
                st.session_state[f"shared.pw.{token}"] = typed
                st.session_state["shared.seen"].discard(token)
                st.rerun()
    return None


def shared(view: SharedView) -> None:
    st.title(components.escape(view.title), anchor=False)  # the owner's text: shown, never run as markdown
    if view.description:
        st.markdown(components.escape(view.description))
    if not view.images:
        st.info("Nothing to show here yet.")
    if len(view.images) == 1:
        image = view.images[0]
        st.image(image.url, width="stretch")
        st.caption(components.escape(image.prompt))
        if image.download_url:
            st.link_button("Download", image.download_url, icon=":material/download:")
        return
    with st.grid("auto", min_column_width=220, border=True):
        for image in view.images:
            with st.container(gap="xsmall"):
                st.image(
                    image.thumb_url,
                    caption=components.escape(components.excerpt(image.prompt, 80)),
                    width="stretch",
                    link=image.url,
                )
                if image.download_url:
                    st.link_button(
                        "Download", image.download_url, icon=":material/download:", type="tertiary"
                    )
