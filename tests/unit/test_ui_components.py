"""Small display pieces: markdown escaping of what people type, excerpts, times, and the mode summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from studio.ui.shell.components import ago, escape, excerpt, mode_summary
from tests.support.services import embedded_settings


@pytest.mark.parametrize(
    "typed",
    [
        "[click](https://evil.example)",
        "**loud** _quiet_",
        ":red[colour] :material/home:",
        "<b>html</b>",
        "# heading",
    ],
)
def test_markdown_specials_are_escaped(typed: str) -> None:
    escaped = escape(typed)
    for index, char in enumerate(escaped):
        if char in "`*_{}[]()#+-.!|<>~$:":
            assert escaped[index - 1] == "\\", f"{char!r} at {index} of {escaped!r} is not escaped"
    assert escaped.replace("\\", "").replace("\u2060", "") == typed


@pytest.mark.parametrize(
    "typed", ["see https://evil.example", "HTTP://x.y", "ftp://files", "www.evil.example"]
)
def test_bare_urls_cannot_become_links(typed: str) -> None:
    shown = escape(typed).replace("\\", "")  # what the markdown renderer sees once escapes are read
    assert "://" not in shown
    assert "www." not in shown.lower()


def test_plain_names_pass_unchanged() -> None:
    assert escape("Ada Lovelace") == "Ada Lovelace"


def test_mode_summary(tmp_path: Path) -> None:
    assert mode_summary(embedded_settings(tmp_path)) == (
        "**Embedded mode**: SQLite file, in-process jobs, local files, mail to an outbox folder."
    )


def test_excerpt_keeps_one_line_within_the_limit() -> None:
    assert excerpt("a  red\nfox", 20) == "a red fox"
    assert excerpt("a red fox in the snow", 10) == "a red fox…"
    assert len(excerpt("x" * 300, 110)) == 110


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=7), "7 min ago"),
        (timedelta(hours=3), "3 h ago"),
    ],
)
def test_ago_in_words(before: timedelta, said: str) -> None:
    assert ago(datetime.now(UTC) - before) == said


def test_ago_gives_the_date_after_a_day() -> None:
    assert ago(datetime(2025, 3, 9, 12, tzinfo=UTC)) == "09 Mar 2025"
