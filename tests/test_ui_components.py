"""Small display pieces: markdown escaping of what people type, and the mode summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.ui.components import escape, mode_summary
from tests.conftest import embedded_settings


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
