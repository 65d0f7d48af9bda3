"""The security headers in Debian Chromium (studio/web/headers.py): the app works under its
Content-Security-Policy on every kind of page (no violation reported), the headers are on the page, a static
bundle, Streamlit's /_stcore/health, the studio's /healthz and a signed file, and another origin cannot frame
the app. HSTS behind a trusted proxy is tested on the middleware itself (tests/web/test_headers.py)."""

from __future__ import annotations

import functools
import re
import shutil
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.support.browser import Tab, demo_sign_in, loaded, opened_page, running_app, shoot
from tests.support.env import ROOT, free_port, wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)
PROMPT = "A glass greenhouse in a snowy forest at night"
# Records every CSP violation of every document and frame, on the page (for a look in the devtools) and
# through the binding (it survives navigations).
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const seen = {
    directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile,
    line: event.lineNumber, sample: event.sample, disposition: event.disposition, page: location.href,
  };
  window.__cspViolations.push(seen);
  window.__reportViolation(seen);
}, true);
"""
POLICY_WORDS = re.compile(r"Content.Security.Policy|Permissions.Policy|Refused to", re.I)


class Violations:
    """Every CSP violation and policy complaint in the console of one browser context's pages."""

    def __init__(self, context: BrowserContext) -> None:
        self.found: list[str] = []
        context.expose_binding("__reportViolation", lambda _source, seen: self.found.append(str(seen)))
        context.add_init_script(WATCH)
        context.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if POLICY_WORDS.search(message.text):
            self.found.append(f"console {message.type}: {message.text}")

    def none_so_far(self, where: str) -> None:
        assert not self.found, f"{where}: " + "\n".join(self.found)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("studio-headers")
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    with running_app(cwd, cwd / "app.log", port=free_port(), extra_env={"DEMO_SECONDS": "1"}) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1400) as opened:
        yield opened


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (a loopback URL we built)
        response.read()
        return response.headers


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_secured(header: Callable[[str], str | None], where: str) -> None:
    """The app's headers, read with `header(name)` (case-insensitive), on one response."""
    policy = directives(header("Content-Security-Policy") or "")
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert policy["default-src"] == ["'self'"], where
    assert policy["object-src"] == ["'none'"], where
    assert policy["script-src-attr"] == ["'none'"], where
    assert "'unsafe-eval'" not in policy["script-src"], where
    assert header("X-Frame-Options") == "DENY", where
    assert header("X-Content-Type-Options") == "nosniff", where
    assert header("Referrer-Policy") == "same-origin", where
    assert header("Cross-Origin-Opener-Policy") == "same-origin", where
    assert "camera=()" in (header("Permissions-Policy") or ""), where
    assert header("Strict-Transport-Security") is None, f"{where}: HSTS over plain http"


def open_page(tab: Tab, url: str, heading: str) -> None:
    tab.visit(url)
    expect(tab.page.get_by_role("heading", name=heading).first).to_be_visible()
    tab.settle()


def test_every_page_works_under_the_policy(
    app_url: str, page: Page, browser: Browser, artifacts: Path
) -> None:
    violations = Violations(page.context)
    tab = demo_sign_in(page, app_url, "Continue as demo user")  # the cookie is written by an inline script
    violations.none_so_far("sign-in")

    page.get_by_role("textbox", name="Prompt").fill(PROMPT)
    page.get_by_role("slider", name="Images").press("ArrowRight")  # two images, to compare
    page.get_by_role("button", name="Generate").click()
    results = page.get_by_role("img", name=PROMPT)
    expect(results).to_have_count(2, timeout=40_000)
    for image in results.all():
        wait_for(functools.partial(loaded, image), timeout=20)  # signed local file URLs
    tab.settle()
    violations.none_so_far("Generate")
    file_url = results.first.get_attribute("src")
    assert file_url
    assert "/api/files/" in file_url
    opens = page.get_by_role("link", name="Open")  # each result card links its image page
    expect(opens).to_have_count(2)
    ids = [re.search(r"id=([0-9a-f-]{36})", link.get_attribute("href") or "") for link in opens.all()]
    image_ids = [found[1] for found in ids if found]
    assert len(image_ids) == 2
    shoot(page, artifacts, "csp-generate.png")

    page.locator('[data-testid="stSidebarNav"] a', has_text="Gallery").click()
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    thumbs = page.locator(".tile img")  # the tiles component (components v2: a blob: module)
    expect(thumbs).to_have_count(2)
    for thumb in thumbs.all():
        wait_for(functools.partial(loaded, thumb), timeout=20)
    tab.settle()
    violations.none_so_far("Gallery")

    tab.visit(f"{app_url}/image?id={image_ids[0]}")
    wait_for(
        functools.partial(loaded, page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first)
    )
    tab.settle()
    violations.none_so_far("the image page")

    open_page(tab, f"{app_url}/edit?id={image_ids[0]}", "Edit")
    canvas = page.locator(".mask-canvas canvas")  # the mask component draws over the image
    expect(canvas).to_be_visible()
    wait_for(functools.partial(loaded, page.locator(".mask-canvas .stage img")), timeout=20)
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=10)
    page.mouse.up()
    expect(page.get_by_text(re.compile(r"[1-9]\d*% masked"))).to_be_visible()
    assert canvas.evaluate("c => c.toDataURL('image/png')").startswith("data:image/png;base64,")
    tab.settle()
    violations.none_so_far("Edit")
    shoot(page, artifacts, "csp-edit.png")

    open_page(tab, f"{app_url}/compare?ids={','.join(image_ids)}", "Compare")
    expect(page.get_by_role("slider").first).to_be_visible()  # the compare slider component
    for image in page.locator('[data-testid="stMain"] img').all():
        wait_for(functools.partial(loaded, image), timeout=20)
    violations.none_so_far("Compare")

    open_page(tab, f"{app_url}/prompts", "Prompt library")
    violations.none_so_far("Prompts")
    open_page(tab, f"{app_url}/usage", "Usage")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()  # plotly drew its charts
    violations.none_so_far("Usage")
    shoot(page, artifacts, "csp-usage.png")

    with opened_page(browser, 1440, 1400) as admin_page:
        admin_violations = Violations(admin_page.context)
        admin = demo_sign_in(admin_page, app_url, "Continue as demo admin")
        open_page(admin, f"{app_url}/system", "System")
        admin_violations.none_so_far("System")
        shoot(admin_page, artifacts, "csp-admin-system.png")
        open_page(admin, f"{app_url}/analytics", "Analytics")
        expect(admin_page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        admin_violations.none_so_far("Analytics")

    _check_headers(app_url, page, file_url)


def _check_headers(app_url: str, page: Page, file_url: str) -> None:
    document = page.goto(app_url)
    assert document is not None
    assert_secured(document.header_value, "the page")
    bundle = re.search(r'src="\./(static/js/index\.[\w-]+\.js)"', document.text())
    assert bundle, "no script bundle in the page"
    for path in (bundle[1], "_stcore/health", "healthz"):
        assert_secured(fetch(f"{app_url}/{path}").get, f"/{path}")

    signed = fetch(file_url)  # the file route's own, stricter policy stays beside the app's
    policies = signed.get_all("Content-Security-Policy")
    assert policies[0] == "sandbox; default-src 'none'"
    assert directives(policies[1])["frame-ancestors"] == ["'none'"]
    assert signed["X-Frame-Options"] == "DENY"


class _Framer(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        body = (
            f'<!doctype html><title>framer</title><iframe src="{self.target}" width=800 height=600></iframe>'
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def framer(app_url: str) -> Iterator[str]:
    """A page of another origin (another port) that puts the app in an iframe."""
    handler = type("Framer", (_Framer,), {"target": f"{app_url}/"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_origin_cannot_frame_the_app(app_url: str, framer: str, page: Page, artifacts: Path) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    answered: list[int] = []
    page.on(
        "response",
        lambda response: answered.append(response.status) if response.url == f"{app_url}/" else None,
    )
    page.goto(framer)
    wait_for(lambda: any("frame-ancestors" in text for text in console), timeout=20)
    assert answered == [200]  # the app answered the frame's request; the browser refused to show it
    page.wait_for_timeout(1500)  # time enough for a Streamlit page to paint, had it been let in
    frame = page.frames[1]
    assert frame.locator('[data-testid="stApp"]').count() == 0
    assert frame.locator("#root").count() == 0
    shoot(page, artifacts, "csp-framed.png")
