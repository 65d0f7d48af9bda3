"""The library in Debian Chromium: generate (demo provider) -> gallery -> detail -> favourite and tag ->
share link -> opened in a fresh browser without a session -> revoked -> refused. Screenshots of the gallery
(grid and list), the detail, a project, a collection and the share page go to tests/artifacts/."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from studio import bootstrap
from studio.domain.accounts import Role
from studio.services.accounts import demo
from studio.services.library import curation, gallery, projects
from tests.support.browser import demo_sign_in, loaded, opened_page, running_app, shoot
from tests.support.builders import T0, add_image
from tests.support.env import free_port, wait_for
from tests.support.services import embedded_settings

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)
PROMPT = "A lighthouse on a basalt cliff at dusk, waves breaking"


@pytest.fixture(scope="module")
def library_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    import shutil

    from tests.support.env import ROOT

    cwd = tmp_path_factory.mktemp("studio-library")
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    with running_app(cwd, cwd / "app.log", port=free_port()) as url:
        yield url, cwd


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1400) as opened:
        yield opened


def test_generate_to_gallery_to_a_shared_link_and_back(
    library_app: tuple[str, Path], page: Page, browser: Browser, artifacts: Path
) -> None:
    app_url, app_dir = library_app
    tab = demo_sign_in(page, app_url, "Continue as demo user")
    page.get_by_role("textbox", name="Prompt").fill(PROMPT)
    page.get_by_role("slider", name="Images").press("ArrowRight")  # two images
    page.get_by_role("button", name="Generate").click()
    results = page.get_by_role("img", name=PROMPT)
    expect(results).to_have_count(2, timeout=40_000)

    page.locator('[data-testid="stSidebarNav"] a', has_text="Gallery").click()
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    expect(page).to_have_url(f"{app_url}/gallery")
    thumbs = page.locator(".tile img")  # the tiles component: Playwright sees into its shadow root
    expect(thumbs).to_have_count(2)
    for thumb in thumbs.all():
        wait_for(functools.partial(loaded, thumb), timeout=20)  # signed URL strings the browser fetched
    tab.settle()
    shoot(page, artifacts, "gallery-grid.png")

    page.get_by_role("radio", name="List").or_(page.get_by_role("button", name="List")).first.click()
    expect(page).to_have_url(re.compile(r"view=List"))
    tab.settle()
    shoot(page, artifacts, "gallery-list.png")
    page.get_by_role("radio", name="Grid").or_(page.get_by_role("button", name="Grid")).first.click()
    tab.settle()

    page.get_by_role("button", name=f"Open: {PROMPT}").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(PROMPT).first).to_be_visible()
    dialog.get_by_role("button", name="Favourite").click()
    expect(dialog.get_by_role("button", name="Unfavourite")).to_be_visible()
    tab.settle()
    dialog.get_by_role("textbox", name="Tags").fill("coast, dusk")
    dialog.get_by_role("button", name="Save tags and notes").click()
    expect(dialog.get_by_role("textbox", name="Tags")).to_have_value("coast, dusk")
    tab.settle()
    wait_for(functools.partial(loaded, dialog.locator("img").first), timeout=20)
    shoot(page, artifacts, "image-detail.png")

    dialog.get_by_role("tab", name="Share").click()
    dialog.get_by_role("button", name="Create share link").click()
    link = dialog.locator('[data-testid="stCode"]', has_text="/s/").first
    expect(link).to_contain_text("/s/")
    share_url = link.inner_text().strip()
    assert re.fullmatch(rf"{re.escape(app_url)}/s/[\w-]{{22,}}", share_url), share_url
    tab.settle()

    with opened_page(browser, 1280, 1000) as visitor:  # a fresh browser context: no cookie, no session
        visitor.goto(share_url)
        expect(visitor.get_by_text(PROMPT).first).to_be_visible(timeout=30_000)
        expect(visitor).to_have_url(re.compile(r"/s\?t="))
        shared = visitor.locator('[data-testid="stImage"] img').first
        wait_for(functools.partial(loaded, shared), timeout=20)
        expect(visitor.get_by_role("link", name="Download")).to_be_visible()
        assert not any(c["name"] == "studio_session" for c in visitor.context.cookies())
        shoot(visitor, artifacts, "share.png")

    dialog.get_by_role("button", name="Revoke").click()
    tab.settle()
    dialog.get_by_role("tab", name="Share").click()  # the rerun opened the dialog on its first tab
    expect(dialog.get_by_text(re.compile(r"revoked ·"))).to_be_visible()
    with opened_page(browser, 1280, 1000) as visitor:
        response = visitor.goto(share_url)
        assert response is not None
        assert response.status == 404
        visitor.goto(share_url.replace("/s/", "/s?t="))
        expect(visitor.get_by_text("This link is not valid").first).to_be_visible(timeout=30_000)
        expect(visitor.get_by_text(PROMPT)).to_have_count(0)

    # a project and a collection of these images, written into the app's own database, then opened
    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        user = demo.sign_in_demo(services, Role.USER)
        ids = [item.id for item in gallery.gallery_page(services, user.id).items]
        project = projects.create_project(
            services, user.id, "Basalt coast", "Cliffs at dusk, for the brochure"
        )
        curation.move_to_project(services, user.id, ids, project)
        projects.update_project(services, user.id, project, cover_image_id=ids[0])
        collection = projects.create_collection(services, user.id, "Brochure picks", "In print order")
        curation.add_to_collection(services, user.id, ids, collection)
    finally:
        services.close()
    page.goto(f"{app_url}/projects?id={project}")
    expect(page.get_by_role("heading", name="Basalt coast")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("2 images")).to_be_visible()
    tab.settle()
    shoot(page, artifacts, "project.png")
    page.goto(f"{app_url}/collections?id={collection}")
    expect(page.get_by_role("heading", name="Brochure picks")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Down")).to_have_count(2)
    tab.settle()
    shoot(page, artifacts, "collection.png")


HOSTILE = '<img src=x onerror="document.title=1"><b>bold</b> & co'


def test_gallery_tiles_open_with_the_keyboard_tick_while_selecting_and_show_prompts_as_text(
    library_app: tuple[str, Path], page: Page, artifacts: Path
) -> None:
    """The tiles component (studio/ui/thumbnails.py) in the browser, as the demo admin (the journey above
    keeps the demo user's gallery to itself)."""
    app_url, app_dir = library_app
    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        admin = demo.sign_in_demo(services, Role.ADMIN)
        for n, prompt in enumerate(["a pier in fog", "a pier at noon", HOSTILE]):
            add_image(services, admin.id, prompt=prompt, files=True, created_at=T0 + timedelta(minutes=n))
    finally:
        services.close()
    tab = demo_sign_in(page, app_url, "Continue as demo admin")
    tab.visit(f"{app_url}/gallery")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(3)
    for thumb in page.locator(".tile img").all():
        wait_for(functools.partial(loaded, thumb), timeout=20)

    hostile = page.get_by_role("button", name=f"Open: {HOSTILE}")
    expect(hostile).to_have_text(HOSTILE)  # the prompt as typed: text, never markup
    expect(page.locator(".tile b")).to_have_count(0)
    expect(page.locator(".tile img")).to_have_count(3)
    assert page.title() != "1"

    page.get_by_role("button", name="Open: a pier in fog").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("a pier in fog").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    tab.settle()

    page.get_by_text("Select", exact=True).first.click()  # the switch
    fog = page.get_by_role("button", name="Select: a pier in fog")
    expect(fog).to_have_attribute("aria-pressed", "false")
    fog.click()
    expect(page.get_by_text("1 selected")).to_be_visible()
    page.get_by_role("button", name="Select: a pier at noon").click()
    expect(page.get_by_text("2 selected")).to_be_visible()
    expect(page.locator('.tile[aria-pressed="true"]')).to_have_count(2)
    expect(dialog).to_have_count(0)  # a click while selecting ticks; it opens nothing
    tab.settle()
    shoot(page, artifacts, "gallery-selecting.png")
    fog.click()
    expect(page.get_by_text("1 selected")).to_be_visible()
    expect(page.locator('.tile[aria-pressed="true"]')).to_have_count(1)
