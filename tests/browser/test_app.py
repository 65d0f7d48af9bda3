"""The real app (`streamlit run studio/ui/shell/server.py`, embedded mode) in Debian Chromium."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from studio import bootstrap
from studio.adapters.fal import FalProvider
from studio.adapters.queue import InProcessQueue
from studio.domain.accounts import Role
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.accounts import demo
from studio.services.generation import submissions, views
from studio.services.generation.pipeline import JobRun
from studio.services.library import curation, projects
from tests.support.browser import (
    Tab,
    demo_sign_in,
    has_session_cookie,
    loaded,
    opened_page,
    running_app,
    shoot,
    sidebar_links,
)
from tests.support.env import ROOT, free_port, wait_for
from tests.support.fal_server import FakeFal
from tests.support.services import embedded_settings

pytestmark = pytest.mark.browser
# Every expectation waits on a condition; give a loaded two-core machine room before calling it failed.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("studio-app")
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    return cwd


@pytest.fixture(scope="module")
def app_url(app_dir: Path) -> Iterator[str]:
    with running_app(app_dir, app_dir / "app.log", port=free_port()) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1280, 1000) as opened:
        yield opened


USER_LINKS = [
    "Dashboard", "Generate", "Batches", "Gallery", "Prompts", "Projects", "Collections", "Trash", "Usage",
    "Plans", "Account",
]  # fmt: skip
ADMIN_LINKS = ["Analytics", "Users", "Models", "Queue", "Audit log", "System", "Plan catalogue"]


def test_healthz_of_the_running_app(app_url: str) -> None:
    with urllib.request.urlopen(f"{app_url}/healthz", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ok"
    assert {name: check["backend"] for name, check in body["checks"].items()} == {
        "database": "sqlite",
        "queue": "in-process",
        "storage": "local",
    }


def test_welcome_sign_in_system_and_sign_out(app_url: str, page: Page, artifacts: Path) -> None:
    tab = Tab(page)
    tab.visit(app_url)
    expect(page.get_by_role("heading", name="the studio")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Embedded mode")).to_be_visible()
    assert sidebar_links(page) == ["Welcome", "Sign in", "Create account"]
    shoot(page, artifacts, "home-anonymous.png")

    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(page, artifacts, "sign-in.png")
    page.get_by_role("button", name="Continue as demo admin").click()
    expect(
        page.get_by_role("heading", name="Generate").first
    ).to_be_visible()  # signed in, the studio opens on it
    wait_for(lambda: has_session_cookie(page), timeout=20)
    tab.settle()
    assert sidebar_links(page) == [*USER_LINKS, *ADMIN_LINKS]
    page.locator('[data-testid="stSidebarNav"] a', has_text="Account").click()
    expect(page.get_by_role("heading", name="Welcome, Demo Admin")).to_be_visible()
    expect(page).to_have_url(f"{app_url}/account")
    shoot(page, artifacts, "home-admin.png")

    page.locator('[data-testid="stSidebarNav"] a', has_text="System").click()
    expect(page.get_by_role("heading", name="System")).to_be_visible()
    expect(page.get_by_text("Every service is answering.")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(2)
    expect(page.get_by_text("No mail has been written to the outbox.")).to_be_visible()
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(3)
    expect(page).to_have_url(f"{app_url}/system")
    shoot(page, artifacts, "system.png")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="the studio")).to_be_visible()
    assert sidebar_links(page) == ["Welcome", "Sign in", "Create account"]


def test_a_user_signs_in_and_has_no_admin_pages(app_url: str, page: Page) -> None:
    demo_sign_in(page, app_url, "Continue as demo user")
    assert sidebar_links(page) == USER_LINKS
    page.goto(f"{app_url}/system")  # a new session, signed in by the cookie: the URL has no page for a user
    expect(page.get_by_role("heading", name="Generate").first).to_be_visible(timeout=30_000)
    assert sidebar_links(page) == USER_LINKS
    expect(page.get_by_text("Every service is answering.")).to_have_count(0)
    expect(page.get_by_role("heading", name="System")).to_have_count(0)


def test_a_deep_link_to_a_fresh_server_never_runs_a_page_without_home(
    tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    """The first request a new server gets is a deep link to an admin page: no file list, no page content."""
    shutil.copytree(ROOT / ".streamlit", tmp_path / ".streamlit")
    with running_app(tmp_path, tmp_path / "app.log") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{url}/admin_system")
        expect(page.get_by_role("heading", name="the studio")).to_be_visible(timeout=30_000)
        assert sidebar_links(page) == ["Welcome", "Sign in", "Create account"]
        expect(page.get_by_text("This page is for administrators.")).to_have_count(0)
        expect(page.get_by_role("heading", name="System")).to_have_count(0)
        shoot(page, artifacts, "deep-link-fresh-server.png")
        context.close()


def test_a_name_is_shown_as_typed_never_as_markdown(app_url: str, app_dir: Path, page: Page) -> None:
    demo_sign_in(page, app_url, "Continue as demo admin")
    hostile = "[click](https://evil.example) **loud** :red[x] <b>b</b>"
    engine = sa.create_engine(f"sqlite:///{app_dir / 'data' / 'studio.db'}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET name = :name WHERE email = 'admin@studio.local'"), {"name": hostile}
        )
    engine.dispose()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Account").click()  # a rerun reloads the account
    heading = page.get_by_role("heading", level=1).filter(has_text="loud")
    expect(heading).to_be_visible()
    assert (
        heading.inner_text().replace("\u2060", "") == f"Welcome, {hostile}"
    )  # as typed (joiners are invisible)
    expect(page.locator('a[href*="evil"]')).to_have_count(0)
    expect(page.locator("strong", has_text=re.compile(r"^loud$"))).to_have_count(0)  # the user's **loud**
    expect(page.get_by_text("**loud**").first).to_be_visible()


@pytest.fixture
def tall_page(browser: Browser) -> Iterator[Page]:
    """Tall enough for the whole Generate page: form, progress panel and recent jobs."""
    with opened_page(browser, 1440, 1500) as opened:
        yield opened


def test_generate_watch_the_job_and_cancel_one(app_url: str, tall_page: Page, artifacts: Path) -> None:
    page = tall_page
    demo_sign_in(page, app_url, "Continue as demo user")
    expect(page.get_by_text("Your images appear here")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Uses 2 credits · you have \d+"))).to_be_visible()
    shoot(page, artifacts, "generate-idle.png")

    prompt = "A lighthouse on a basalt cliff at dusk, waves breaking, warm light in the windows"
    page.get_by_role("textbox", name="Prompt").fill(prompt)
    expect(page.get_by_text(f"{len(prompt)}/2000")).to_be_visible()  # the count, while typing
    page.get_by_role("slider", name="Images").press("ArrowRight")  # two images
    page.get_by_role("button", name="Generate").click()
    expect(page.locator('[data-testid="stProgress"]').first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Running · \d+% · ETA "))).to_be_visible()
    shoot(page, artifacts, "generate-running.png")

    results = page.get_by_role("img", name=prompt)
    expect(results).to_have_count(2)
    for result in results.all():
        wait_for(functools.partial(loaded, result), timeout=20)
    expect(page.get_by_text("Demo image: rendered locally, no FAL_KEY set.")).to_be_visible()
    expect(page.get_by_role("link", name="Download").first).to_be_visible()
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)  # finished: nothing polls
    shoot(page, artifacts, "generate-done.png")

    page.get_by_role("button", name="Generate").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text(re.compile(r"^Cancelled"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Your 4 credits were returned"))).to_be_visible()
    shoot(page, artifacts, "generate-cancelled.png")


def test_a_failed_job_shows_the_models_reason(
    app_url: str, app_dir: Path, tall_page: Page, fake_fal: FakeFal, artifacts: Path
) -> None:
    """A job the model refuses (HTTP 422 from the fake fal), run through the real pipeline on the app's own
    database and files, then opened in a new browser session: the card says why and what was returned."""
    page = tall_page
    demo_sign_in(page, app_url, "Continue as demo user")
    fake_fal.configure(
        result_error=(422, {"detail": [{"loc": ["body", "prompt"], "msg": "prompt is unsafe"}]})
    )
    settings = embedded_settings(app_dir / "data", public_url=app_url)
    services = dataclasses.replace(
        bootstrap.build_services(settings),
        queue=InProcessQueue(app_dir / "test-queue"),  # never started: this test runs the job itself
        make_provider=lambda name: FalProvider("test-key:test-secret"),
    )
    try:
        user = demo.sign_in_demo(services, Role.USER)
        request = Request("fal-ai/flux/dev", "A storm over the harbour, refused by the model")
        job = submissions.start_generation(services, user.id, request, "browser-failed")
        JobRun(services, job.id, 1).run()
        assert views.get_job(services, user.id, job.id).status is JobStatus.FAILED
    finally:
        services.close()
    page.goto(
        f"{app_url}/generate"
    )  # a new session, signed in by its cookie: the panel opens on the newest job
    expect(page.get_by_text("The model refused these parameters: prompt: prompt is unsafe")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Your 1 credit was returned|Your 1 credits? (was|were) returned"))
    ).to_be_visible()
    shoot(page, artifacts, "generate-failed.png")


def test_the_usage_page_with_a_cycle_of_spending(
    app_url: str, app_dir: Path, tall_page: Page, artifacts: Path
) -> None:
    """Charges written into the app's own database, then the Usage page: meter, both charts, the ledger."""
    from tests.support.builders import charge

    page = tall_page
    demo_sign_in(page, app_url, "Continue as demo user")
    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        user = demo.sign_in_demo(services, Role.USER)
        for model, held in (
            ("fal-ai/flux/dev", 4),
            ("fal-ai/flux-pro/v1.1-ultra", 9),
            ("fal-ai/fast-sdxl", 3),
        ):
            charge(services, user.id, model, held)
    finally:
        services.close()
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    expect(page.locator(".js-plotly-plot").nth(1)).to_be_visible()  # this cycle: by day and by model
    expect(page.get_by_text("Credit history")).to_be_visible()
    shoot(page, artifacts, "usage.png")


def test_the_plans_page_with_payments_off(app_url: str, tall_page: Page, artifacts: Path) -> None:
    page = tall_page
    demo_sign_in(page, app_url, "Continue as demo user")
    page.get_by_role("link", name="Plans").click()
    expect(page.get_by_role("heading", name="Plans and billing").first).to_be_visible()
    expect(page.get_by_text("Payments are off on this installation")).to_be_visible()
    expect(page.get_by_text("$29 / month")).to_be_visible()
    shoot(page, artifacts, "billing.png")


def _demo_user_library(app_dir: Path, app_url: str) -> None:
    """A few images (two of them favourites) and a project for the demo user, for the dashboard."""
    from tests.support.builders import add_image

    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        user = demo.sign_in_demo(services, Role.USER)
        prompts = ["a lighthouse at dusk", "a fox in fresh snow", "a tram in the rain", "lavender fields"]
        images = [add_image(services, user.id, prompt=prompt, files=True) for prompt in prompts]
        curation.set_favourite(services, user.id, images[:2], True)
        projects.create_project(services, user.id, "Coastlines", "Lighthouses and harbours")
    finally:
        services.close()


def test_the_dashboard_and_the_admin_analytics_with_data(
    app_url: str, app_dir: Path, tall_page: Page, browser: Browser, artifacts: Path
) -> None:
    """The hand-worked seed of tests/support/admin_seed.py in the app's own database, then the Analytics page
    as the demo admin (metrics, four charts, both tables) and the demo user's dashboard."""
    from tests.support.admin_seed import seed

    page = tall_page
    services = bootstrap.build_services(embedded_settings(app_dir / "data", public_url=app_url))
    try:
        seed(services)
    finally:
        services.close()
    demo_sign_in(page, app_url, "Continue as demo admin")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    expect(page.get_by_text("$48.00")).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()
    shoot(page, artifacts, "admin-analytics.png")

    with opened_page(browser, 1440, 1500) as user_page:  # another browser: the demo user's own session
        demo_sign_in(user_page, app_url, "Continue as demo user")
        _demo_user_library(app_dir, app_url)
        user_page.locator('[data-testid="stSidebarNav"] a', has_text="Dashboard").click()
        expect(user_page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(user_page.get_by_text("Credits used this cycle")).to_be_visible()
        expect(user_page.get_by_role("heading", name="Activity")).to_be_visible()
        shoot(user_page, artifacts, "dashboard.png")
