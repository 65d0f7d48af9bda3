"""Chart pieces shared by the Usage page and the admin pages: the range picker, number formats and Plotly
charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from studio.domain.analytics import MAX_DAYS, PRESETS, DateRange

COLOUR = "#6d5dfc"
SECOND = "#f08c4a"
CUSTOM = "Custom"


def range_picker(key: str, default: str = "Last 30 days") -> DateRange:
    """Last 7 / 30 / 90 days or a custom span of whole UTC days."""
    today = datetime.now(UTC).date()
    choice = st.segmented_control(
        "Range", [*PRESETS, CUSTOM], default=default, key=f"{key}.preset", label_visibility="collapsed"
    )
    if choice != CUSTOM:
        return DateRange.last_days(PRESETS.get(choice or default, 30), today)
    picked = st.date_input(
        "Days",
        value=(today - timedelta(days=29), today),
        min_value=today - timedelta(days=MAX_DAYS),
        max_value=today,
        key=f"{key}.custom",
    )
    days = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, date)]
    if not days:
        return DateRange.last_days(30, today)
    return DateRange(days[0], days[-1])


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f} s"


def dollars(amount: float) -> str:
    return f"${amount:,.2f}"


def layout(figure: go.Figure, title: str, y_title: str | None = None, *, legend: bool = False) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=300,
        showlegend=legend,
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": y_title, "rangemode": "tozero"},
    )
    return figure


def show(figure: go.Figure, key: str) -> None:
    st.plotly_chart(figure, config={"displayModeBar": False}, key=key)


def day_bars(days: Sequence[date], series: dict[str, Sequence[float]], title: str, y_title: str) -> go.Figure:
    labels = [f"{day:%d %b}" for day in days]
    colours = [COLOUR, SECOND, "#2bb673", "#e5484d"]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=list(values), name=name, marker_color=colours[n % 4])
            for n, (name, values) in enumerate(series.items())
        ]
    )
    figure.update_xaxes(type="category", tickangle=0, nticks=10)
    return layout(figure, title, y_title, legend=len(series) > 1)


def model_bars(names: Sequence[str], values: Sequence[float], title: str, x_title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(values), y=list(names), orientation="h", marker_color=COLOUR))
    figure = layout(figure, title)
    figure.update_layout(yaxis={"title": None, "autorange": "reversed"}, xaxis={"title": x_title})
    return figure
