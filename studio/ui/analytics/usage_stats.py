"""The Usage page's analytics: one person's generations, images and credits over the chosen days."""

from __future__ import annotations

import streamlit as st

from studio.services.analytics.user_stats import UserStats
from studio.ui.shell.charts import day_bars, model_bars, pct, show


def my_usage(found: UserStats) -> None:
    """The Usage page's analytics section for the chosen range."""
    with st.container(horizontal=True):
        st.metric("Generations", f"{found.jobs:,}", border=True)
        st.metric("Images", f"{found.images:,}", border=True)
        st.metric("Credits", f"{found.credits:,}", border=True)
        st.metric("Success rate", pct(found.success_rate), border=True)
        st.metric(
            "Average time",
            "–" if found.average_seconds is None else f"{found.average_seconds:.1f} s",
            border=True,
        )
    if not found.jobs:
        st.info("No finished generations in this range.", icon=":material/image:")
        return
    days = [entry.day for entry in found.per_day]
    left, right = st.columns(2, gap="large")
    with left:
        show(
            day_bars(days, {"generations": [e.jobs for e in found.per_day]}, "Generations per day", "jobs"),
            "my.jobs_per_day",
        )
        show(
            model_bars(
                [m.name for m in found.per_model],
                [m.jobs for m in found.per_model],
                "Generations by model",
                "jobs",
            ),
            "my.jobs_by_model",
        )
    with right:
        show(
            day_bars(days, {"credits": [e.credits for e in found.per_day]}, "Credits per day", "credits"),
            "my.credits_per_day",
        )
        show(
            model_bars(
                [m.name for m in found.per_model],
                [m.credits for m in found.per_model],
                "Credits by model",
                "credits",
            ),
            "my.credits_by_model",
        )
