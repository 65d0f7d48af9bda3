"""The admin analytics page's pieces: headline metrics, charts per day and per model, the tables."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from studio.domain.analytics import dollars_from_cents, dollars_from_micros
from studio.services.analytics.admin_analytics import AdminAnalytics
from studio.ui.shell.charts import COLOUR, SECOND, day_bars, dollars, layout, pct, seconds, show


def headline(found: AdminAnalytics) -> None:
    with st.container(horizontal=True):
        st.metric("Active users", f"{found.active_users:,}", border=True)
        st.metric("New users", f"{found.new_users:,}", border=True)
        st.metric("Generations", f"{found.jobs:,}", border=True)
        st.metric("Failure rate", pct(found.failure_rate), border=True)
        st.metric("Refunded jobs", pct(found.refund_rate), border=True)
    with st.container(horizontal=True):
        st.metric("Revenue", dollars(dollars_from_cents(found.revenue_cents)), border=True)
        st.metric("Provider cost", dollars(dollars_from_micros(found.cost_micros)), border=True)
        st.metric("Gross margin", pct(found.margin), border=True)
        st.metric("Credits spent", f"{found.credits:,}", border=True)
    st.caption(
        f"Revenue: {dollars(dollars_from_cents(found.stripe_revenue_cents))} from paid Stripe invoices, "
        f"and {dollars(dollars_from_cents(found.assigned_revenue_cents))} estimated for paid plans assigned "
        "by an admin (the plan's price per cycle started; no payment is taken for those). Provider cost: the "
        "catalogue price of each finished job's output (demo images cost nothing). Refunded jobs: failed or "
        "cancelled, their credits returned. Plans are each account's current plan."
    )


def per_day(found: AdminAnalytics) -> None:
    days = [d.day for d in found.per_day]
    left, right = st.columns(2, gap="large")
    with left:
        show(
            day_bars(
                days,
                {
                    "succeeded": [d.succeeded for d in found.per_day],
                    "failed": [d.failed for d in found.per_day],
                },
                "Generations per day",
                "jobs",
            ).update_layout(barmode="stack"),
            "admin.jobs_per_day",
        )
        show(
            day_bars(
                days,
                {"active users": [d.active_users for d in found.per_day]},
                "Active users per day",
                "users",
            ),
            "admin.users_per_day",
        )
    with right:
        show(
            day_bars(
                days,
                {
                    "revenue": [dollars_from_cents(d.revenue_cents) for d in found.per_day],
                    "provider cost": [dollars_from_micros(d.cost_micros) for d in found.per_day],
                },
                "Revenue and provider cost per day",
                "US$",
            ),
            "admin.money_per_day",
        )
        models = found.per_model
        figure = go.Figure(
            [
                go.Bar(
                    y=[m.name for m in models],
                    x=[(m.avg_queue_ms or 0) / 1000 for m in models],
                    name="queue wait",
                    orientation="h",
                    marker_color=SECOND,
                ),
                go.Bar(
                    y=[m.name for m in models],
                    x=[(m.avg_run_ms or 0) / 1000 for m in models],
                    name="run time",
                    orientation="h",
                    marker_color=COLOUR,
                ),
            ]
        )
        figure = layout(figure, "Queue wait and run time (average)", legend=True)
        figure.update_layout(
            barmode="stack", yaxis={"title": None, "autorange": "reversed"}, xaxis={"title": "s"}
        )
        show(figure, "admin.wait_vs_run")


def per_model(found: AdminAnalytics) -> None:
    st.subheader("By model", anchor=False)
    st.dataframe(
        [
            {
                "Model": m.name,
                "Jobs": m.jobs,
                "Success": pct(m.success_rate),
                "Failed": m.failed,
                "Credits": m.credits,
                "Provider cost": dollars(dollars_from_micros(m.cost_micros)),
                "p50": seconds(m.p50_ms),
                "p95": seconds(m.p95_ms),
                "Queue wait": seconds(m.avg_queue_ms),
                "Run time": seconds(m.avg_run_ms),
            }
            for m in found.per_model
        ],
        hide_index=True,
        width="stretch",
    )


def per_plan(found: AdminAnalytics) -> None:
    st.subheader("By plan", anchor=False)
    st.dataframe(
        [
            {
                "Plan": p.plan,
                "Jobs": p.jobs,
                "Credits": p.credits,
                "Revenue": dollars(dollars_from_cents(p.revenue_cents)),
                "Provider cost": dollars(dollars_from_micros(p.cost_micros)),
                "Gross margin": pct(p.margin),
            }
            for p in found.per_plan
        ],
        hide_index=True,
        width="stretch",
    )
