"""The dashboard's pieces: welcome, overview cards, thumbnail strips, projects and the activity feed."""

from __future__ import annotations

import streamlit as st

from studio.services.analytics.dashboard import Activity, Dashboard, ProjectCard, Thumb
from studio.ui.shell.components import ago, escape, excerpt

GENERATE_PAGE = "pages/generate.py"


def welcome(name: str, credits: int) -> None:
    with st.container(border=True):
        st.subheader(f"Welcome, {escape(name)}", anchor=False)
        st.markdown(
            f"You have **{credits:,} credits**. Describe an image, pick a model and watch it appear: "
            "your first generation is one click away."
        )
        st.page_link(GENERATE_PAGE, label="Make your first image", icon=":material/auto_awesome:")


def cards(found: Dashboard) -> None:
    with st.container(horizontal=True):
        st.metric("Images", f"{found.images:,}", border=True)
        st.metric("Credits used this cycle", f"{found.credits_used:,}", border=True)
        st.metric("Credits left", f"{found.credits_left:,}", border=True)
        st.metric("Projects", f"{found.projects:,}", border=True)
        st.metric("Favourites", f"{found.favourites:,}", border=True)


def thumbs(title: str, images: list[Thumb], empty: str) -> None:
    st.subheader(title, anchor=False)
    if not images:
        st.caption(empty)
        return
    # One element for the whole strip: URL strings, never bytes.
    st.image([image.url for image in images], width=120, caption=[excerpt(i.prompt, 40) for i in images])


def projects(found: list[ProjectCard]) -> None:
    st.subheader("Recent projects", anchor=False)
    if not found:
        st.caption("No projects yet.")
        return
    st.dataframe(
        [{"Project": p.name, "Images": p.images, "Created": p.created_at} for p in found],
        hide_index=True,
        width="stretch",
        column_config={"Created": st.column_config.DatetimeColumn(format="D MMM YYYY")},
    )


def activity(items: list[Activity]) -> None:
    st.subheader("Activity", anchor=False)
    if not items:
        st.caption("Nothing yet.")
        return
    with st.container(border=True):
        for item in items:
            icon = ":material/image:" if item.kind == "job" else ":material/toll:"
            st.markdown(
                f"{icon} **{escape(item.text)}** · {ago(item.at)}  \n{escape(excerpt(item.detail, 90))}"
            )
    st.page_link(GENERATE_PAGE, label="Generate", icon=":material/auto_awesome:")
