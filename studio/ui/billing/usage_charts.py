"""The Usage page's pieces: the cycle's meter, the charts (Plotly) and the ledger as a table."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from studio.services.billing.usage import Usage

_COLOUR = "#6d5dfc"
_KINDS = {
    "grant": "Plan credits",
    "reserve": "Held for a job",
    "settle": "Job finished",
    "refund": "Returned",
    "adjust": "Adjusted by an admin",
    "expire": "Expired at renewal",
}


def _credits(count: int) -> str:
    return f"{count:,} credit{'s' if count != 1 else ''}"


def meter(found: Usage) -> None:
    renews = f"{found.renews_at:%d %B %Y}"
    with st.container(horizontal=True):
        st.metric("Plan", found.plan, border=True)
        st.metric("Credits left", f"{found.left:,}", border=True)
        st.metric("Used this cycle", f"{found.used:,} of {found.granted:,}", border=True)
        st.metric("Renews on", renews, border=True)
    st.progress(min(1.0, found.used_share), text=f"{found.used_share:.0%} of this cycle's credits used")
    if found.left == 0:
        st.error(
            f"You have used all {_credits(found.granted)} of this cycle. Generating is paused: upgrade your "
            f"plan, or wait until **{renews}**, when your credits renew.",
            icon=":material/block:",
        )
    elif found.used_share >= 0.8:
        st.warning(
            f"You have used {found.used_share:.0%} of this cycle's credits; {_credits(found.left)} left "
            f"until {renews}.",
            icon=":material/hourglass_bottom:",
        )
    label = "See plans and upgrade" if found.left == 0 else "Plans and billing"
    st.page_link("pages/billing.py", label=label, icon=":material/credit_card:")


def _layout(figure: go.Figure, title: str) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=300,
        showlegend=False,
        yaxis={"title": "credits", "rangemode": "tozero"},
    )
    return figure


def charts(found: Usage) -> None:
    by_day, by_model = st.columns([3, 2], gap="large")
    days = [f"{day:%d %b}" for day, _ in found.per_day]  # categories: one bar per day, even for one day
    spent = [amount for _, amount in found.per_day]
    by_day.plotly_chart(
        _layout(go.Figure(go.Bar(x=days, y=spent, marker_color=_COLOUR)), "Credits per day").update_xaxes(
            type="category", tickangle=0, dtick=7
        ),
        config={"displayModeBar": False},
    )
    if found.per_model:
        names = [name for name, _ in found.per_model]
        amounts = [amount for _, amount in found.per_model]
        figure = go.Figure(go.Bar(x=amounts, y=names, orientation="h", marker_color=_COLOUR))
        figure = _layout(figure, "By model")
        figure.update_layout(yaxis={"title": None, "autorange": "reversed"}, xaxis={"title": "credits"})
        by_model.plotly_chart(figure, config={"displayModeBar": False})
    else:
        by_model.info("No images this cycle yet.", icon=":material/image:")


def history(found: Usage) -> None:
    rows = [
        {
            "When": line.at,
            "What": _KINDS.get(line.kind, line.kind),
            "Credits": line.delta,
            "Balance": line.balance_after,
            "Details": line.reason,
        }
        for line in found.history
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
            "Credits": st.column_config.NumberColumn(format="%+d"),
        },
    )
