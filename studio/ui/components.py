"""Small display pieces shared by pages."""

from __future__ import annotations

import streamlit as st

from studio.services.health import HealthReport
from studio.settings import Settings

_PART_LABELS = {
    "sqlite": "SQLite file",
    "postgres": "PostgreSQL",
    "in-process": "in-process jobs",
    "rq": "RQ workers on Redis",
    "local": "local files",
    "s3": "S3 storage",
    "outbox": "mail to an outbox folder",
    "smtp": "mail over SMTP",
}


def mode_summary(settings: Settings) -> str:
    described = settings.describe()
    parts = [_PART_LABELS[described[part]] for part in ("database", "jobs", "storage", "mail")]
    return f"**{described['mode'].capitalize()} mode**: " + ", ".join(parts) + "."


def health_table(report: HealthReport) -> None:
    rows = [
        {
            "Service": check.name.capitalize(),
            "Backend": check.backend,
            "Status": "up" if check.ok else "DOWN",
            "Latency (ms)": round(check.latency_ms, 1),
            "Error": check.error or "",
        }
        for check in report.checks
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
