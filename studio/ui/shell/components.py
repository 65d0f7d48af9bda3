"""Small display pieces shared by pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import streamlit as st

from studio.errors import InvalidForm, StudioError
from studio.services.admin.health import HealthReport
from studio.settings import Settings

T = TypeVar("T")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


# GitHub-flavoured markdown links bare URLs even when escaped; an invisible word joiner breaks the pattern.
# (An email address still becomes a mailto: link: harmless, and a joiner would break copying it.)
_AUTOLINKS = re.compile(r"(?i)\b(https?|ftp)://|\bwww\.")
_WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Text a person typed, made safe to put in markdown: shown as typed, never as web links or styles."""
    unlinked = _AUTOLINKS.sub(lambda match: match.group(0)[:-1] + _WORD_JOINER + match.group(0)[-1], text)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", unlinked)


def refusal(err: StudioError) -> None:
    """A service's refusal as error messages, one per problem of a form."""
    for problem in err.problems if isinstance(err, InvalidForm) else [str(err)]:
        st.error(problem, icon=":material/error:")


def excerpt(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ago(moment: datetime) -> str:
    """How long ago `moment` (timezone-aware) was, in words; the date once it is a day old."""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{moment:%d %b %Y}"


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


_FLASH = "studio.flash"


def flash_and_rerun(message: str) -> None:
    """Rerun the app (so everything shows the change) and toast `message` on that run: a toast sent just
    before a rerun would be lost with it."""
    st.session_state[_FLASH] = message
    st.rerun()


def act(action: Callable[[], T], done: str | Callable[[T], str]) -> None:
    """Run one service call: when it works, rerun and toast `done` (or what `done` says of its result);
    when the service refuses, show why here and keep the page as it is."""
    try:
        result = action()
    except StudioError as err:
        st.error(str(err))
    else:
        flash_and_rerun(done(result) if callable(done) else done)


def show_flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.toast(message, icon=":material/check:")
