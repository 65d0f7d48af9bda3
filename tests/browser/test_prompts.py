"""The prompt library in Debian Chromium, embedded mode with the demo provider: save a prompt from the
history -> make it a template with a list and a variable -> use it on Generate -> the images are made,
with the expanded prompt and its pick seed recorded. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from studio import bootstrap
from studio.adapters.db.models import GenerationJob
from tests.support.browser import demo_app, demo_sign_in, opened_page, shoot
from tests.support.services import embedded_settings

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)
PROMPT = "a red fox in fresh snow"
TEMPLATE = "a {small|huge} __animal__ in ${place}"


@pytest.fixture(scope="module")
def prompts_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with demo_app(tmp_path_factory, "studio-prompts") as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1400) as opened:
        yield opened


def test_history_to_a_template_to_generate(
    prompts_app: tuple[str, Path], page: Page, artifacts: Path
) -> None:
    app_url, app_dir = prompts_app
    tab = demo_sign_in(page, app_url, "Continue as demo user")
    page.get_by_role("textbox", name="Prompt").fill(PROMPT)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("img", name=PROMPT)).to_have_count(1, timeout=40_000)
    tab.settle()

    page.locator('[data-testid="stSidebarNav"] a', has_text="Prompts").click()
    expect(page.get_by_role("heading", name="Prompt library")).to_be_visible()
    tab.settle()
    page.get_by_role("tab", name="History").click()
    expect(page.get_by_text("1 image · 1 run")).to_be_visible()
    page.get_by_role("button", name="Save to library").click()
    page.locator('[data-testid="stPopoverBody"]').get_by_role("button", name="Save").click()
    tab.settle()

    page.get_by_role("tab", name="Wildcard lists").click()
    lists = page.get_by_role("tabpanel", name="Wildcard lists")
    lists.get_by_role("textbox", name="Name").fill("animal")
    lists.get_by_role("textbox", name="Entries").fill("fox\nowl\nhare")
    lists.get_by_role("button", name="Save the list").click()
    tab.settle()
    page.get_by_role("tab", name="Wildcard lists").click()
    expect(page.get_by_text("__animal__ · 3 entries")).to_be_visible()

    page.get_by_role("tab", name="My prompts").click()
    mine = page.get_by_role("tabpanel", name="My prompts")
    expect(mine.get_by_text(PROMPT).first).to_be_visible()
    mine.get_by_role("button", name="Edit").click()
    editor = page.locator('[data-testid="stPopoverBody"]')
    editor.get_by_role("textbox", name="Prompt", exact=True).fill(TEMPLATE)
    editor.get_by_role("button", name="Save").click()
    tab.settle()
    expect(mine.get_by_text(re.compile(r"Template$")).first).to_be_visible()
    page.keyboard.press("Escape")  # close the editor's popover
    shoot(page, artifacts, "prompt-library.png")

    mine.get_by_role("button", name="Use on Generate").click()
    expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    tab.settle()
    expect(page.get_by_role("textbox", name="Prompt")).to_have_value(TEMPLATE)
    page.get_by_role("textbox", name="${place}").fill("the snow")
    page.get_by_role("button", name="Update cost").click()
    tab.settle()
    expect(page.get_by_text(re.compile(r"A template: 6 possible prompts"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^a (small|huge) (fox|owl|hare) in the snow$"))).to_be_visible()
    shoot(page, artifacts, "generate-template.png")
    page.get_by_role("button", name="Generate").click()
    made = page.get_by_role("img", name=re.compile(r"^a (small|huge) (fox|owl|hare) in the snow$"))
    expect(made).to_have_count(1, timeout=40_000)
    tab.settle()

    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        with services.uow() as uow:
            job = uow.session.scalars(
                sa.select(GenerationJob).order_by(GenerationJob.created_at.desc()).limit(1)
            ).one()
            recorded = (job.prompt, dict(job.request), dict(job.params))
    finally:
        services.close()
    prompt, request, params = recorded
    assert re.fullmatch(r"a (small|huge) (fox|owl|hare) in the snow", prompt)
    assert request["template"] == TEMPLATE
    assert request["values"] == {"place": "the snow"}
    assert isinstance(request["pick_seed"], int)
    assert params["prompt"] == prompt
