"""Batches in Debian Chromium, embedded mode with the demo provider: a CSV upload -> the cost preview ->
start -> pause (the rest waits) -> resume -> cancel the rest (refunded) -> export the ZIP, whose manifest
names every image. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import demo_app, demo_sign_in, opened_page, shoot

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)
ROWS = 14


@pytest.fixture(scope="module")
def batch_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with demo_app(tmp_path_factory, "studio-batches") as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1600) as opened:
        yield opened


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    lines = ["prompt,seed"] + [
        f'"a paper lantern no. {n} over a dark river",{1000 + n}' for n in range(1, ROWS + 1)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _state(group: Locator) -> Locator:
    """The batch's state badge."""
    return group.locator(".stMarkdownBadge").first


def _count(group: Locator, name: str) -> int:
    match = re.search(rf"(\d+) {name}\b", group.inner_text())
    assert match, group.inner_text()
    return int(match.group(1))


def test_csv_to_preview_to_pause_resume_cancel_and_export(
    batch_app: tuple[str, Path], page: Page, artifacts: Path, tmp_path: Path
) -> None:
    app_url, _ = batch_app
    tab = demo_sign_in(page, app_url, "Continue as demo user")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Batches").click()
    expect(page.get_by_role("heading", name="Batches", exact=True)).to_be_visible()
    tab.settle()

    page.get_by_role("radio", name="CSV upload").or_(
        page.get_by_role("button", name="CSV upload")
    ).first.click()
    tab.settle()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(_csv(tmp_path)))
    expect(page.get_by_text(f"Start batch of {ROWS}")).to_be_visible()
    tab.settle()
    jobs = page.locator('[data-testid="stMetric"]', has_text="Jobs")
    expect(jobs).to_contain_text(str(ROWS))
    expect(page.get_by_text("Your Free plan runs batches of up to 50 jobs, 2 at a time.")).to_be_visible()
    shoot(page, artifacts, "batch-preview.png")

    page.get_by_role("button", name=f"Start batch of {ROWS}").click()
    group = page.locator('[class*="st-key-batch-group-"]').first
    expect(_state(group)).to_have_text(re.compile("Running$"))
    group.get_by_role("button", name="Pause").click()
    expect(_state(group)).to_have_text(re.compile("Paused$"))
    # Running rows finish; the rest waits: nothing runs, some stay queued.
    expect(group).to_contain_text("0 running", timeout=30_000)
    waiting = _count(group, "queued")
    assert waiting > 0
    page.wait_for_timeout(2500)
    assert _count(group, "queued") == waiting
    shoot(page, artifacts, "batch-paused.png")

    group.get_by_role("button", name="Resume").click()
    expect(_state(group)).to_have_text(re.compile("Running$"))
    group.get_by_role("button", name="Cancel the rest").click()
    expect(_state(group)).to_have_text(re.compile(r"\bCancelled$"), timeout=30_000)
    done, cancelled = _count(group, "done"), _count(group, "cancelled")
    assert done >= 2
    assert cancelled >= 1
    assert done + cancelled == ROWS
    shoot(page, artifacts, "batch-cancelled.png")

    group.get_by_role("button", name="Export ZIP").click()
    link = group.get_by_role("link", name="Download ZIP")
    expect(link).to_be_visible()
    shoot(page, artifacts, "batch-export.png")
    response = page.request.get(str(link.get_attribute("href")))
    assert response.ok
    archive = zipfile.ZipFile(io.BytesIO(response.body()))
    names = archive.namelist()
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert {"manifest.csv", "manifest.json", "report.json"} <= set(names)
    made = [row for row in manifest if row["image_file"]]
    assert len(made) == done
    assert all(row["image_file"] in names for row in made)
    assert {row["status"] for row in manifest} == {"succeeded", "cancelled"}
    assert sorted(int(row["seed"]) for row in made) == sorted(
        int(row["seed"]) for row in manifest if row["status"] == "succeeded"
    )
