"""Text someone typed is shown as text on every page, in Debian Chromium: a prompt, a project name and a
saved prompt written as Markdown links and images never become a link or an image, and the browser never
fetches anything from the site they name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, Request, expect

from studio import bootstrap
from studio.adapters.db.models import Image, User
from studio.domain.prompts import PromptForm
from studio.domain.sharing import ShareOptions, ShareTarget
from studio.services.library import projects, sharing
from studio.services.prompts import library
from tests.support.browser import Tab, demo_app, demo_sign_in, opened_page
from tests.support.services import embedded_settings

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)
HOSTILE = "[Sign in again to see this image](https://elsewhere.example/phish) ![](https://elsewhere.example/pixel.png)"


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with demo_app(tmp_path_factory, "studio-hostile") as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1200) as opened:
        yield opened


def assert_shown_as_text(page: Page, tab: Tab, where: str) -> None:
    tab.settle()
    expect(page.get_by_text("Sign in again to see this image").first).to_be_attached()
    assert page.locator('a[href*="elsewhere"]').count() == 0, where
    assert page.locator('img[src*="elsewhere"]').count() == 0, where


def test_typed_markdown_stays_text_on_every_page(hostile_app: tuple[str, Path], page: Page) -> None:
    app_url, app_dir = hostile_app
    fetched: list[str] = []

    def watch(request: Request) -> None:
        if "elsewhere" in request.url:
            fetched.append(request.url)

    page.on("request", watch)
    tab = demo_sign_in(page, app_url, "Continue as demo user")
    page.get_by_role("textbox", name="Prompt").fill(HOSTILE)
    page.get_by_role("slider", name="Images").press("ArrowRight")  # two images, to compare them
    page.get_by_role("button", name="Generate").click()
    expect(page.locator('[data-testid="stImage"] img').first).to_be_visible(timeout=40_000)
    assert_shown_as_text(page, tab, "generate")

    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        with services.uow() as uow:
            owner = uow.session.scalar(sa.select(User.id).where(User.username == "demo"))
            image_id, other_id = uow.session.scalars(sa.select(Image.id).where(Image.owner_id == owner)).all()
        assert owner is not None
        assert image_id is not None
        projects.create_project(services, owner, HOSTILE[:200], HOSTILE)
        library.create(services, owner, PromptForm(HOSTILE[:200], HOSTILE))
        link = sharing.create_share(services, owner, ShareTarget.IMAGE, image_id, ShareOptions())
    finally:
        services.close()

    for path, where in (
        ("/gallery?view=List", "gallery list"),
        (f"/image?id={image_id}", "image page"),
        (f"/compare?ids={image_id},{other_id}", "compare"),
        ("/prompts", "prompt library"),
        ("/projects", "projects"),
    ):
        tab.visit(f"{app_url}{path}")
        assert_shown_as_text(page, tab, where)
    tab.visit(f"{app_url}/s?t={link.token}")
    assert_shown_as_text(page, tab, "share page")
    assert fetched == []
    assert re.search(r"elsewhere", page.content()) is not None  # the text is there, as text
