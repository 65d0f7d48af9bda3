"""The real app in Debian Chromium: starting it as `make run` does, the browser's flags, and following a
Streamlit session from the browser (its script runs, read from the session's websocket).

Every page load runs the script once; clicks, forms and fragments ask for more runs. A click or a form
submitted while a run is under way is sometimes dropped by Streamlit, so the browser tests wait for the
session to be idle (`Tab.settle`) before they act, never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, WebSocket, expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.support.env import ROOT, free_port, wait_for

#: Debian's chromium, never a downloaded one, with the flags this closed network needs.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
QUIET_SECONDS = 0.3  # no websocket traffic for this long, on top of "no run asked for or running"


class Tab:
    """A browser page and the script runs of its Streamlit session, followed on the session's websocket."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.socket: WebSocket | None = None  # the websocket of the page's current session
        self.requested = 0  # full runs this session asked for: its first run, component values, clicks
        self.pending = False  # a run was asked for and has not started yet
        self.running = False
        self.last_frame = time.monotonic()
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):  # a page load: a new session
            self.socket, self.requested, self.pending, self.running = socket, 0, False, False
            socket.on("framesent", lambda payload: self._sent(socket, payload))
            socket.on("framereceived", lambda payload: self._received(socket, payload))

    def _sent(self, socket: WebSocket, payload: str | bytes) -> None:
        if socket is not self.socket or not isinstance(payload, bytes):
            return
        self.last_frame = time.monotonic()
        message = BackMsg.FromString(payload)
        if message.WhichOneof("type") == "rerun_script" and not message.rerun_script.fragment_id:
            self.requested += 1
            self.pending = True

    def _received(self, socket: WebSocket, payload: str | bytes) -> None:
        if socket is not self.socket or not isinstance(payload, bytes):
            return
        self.last_frame = time.monotonic()
        kind = ForwardMsg.FromString(payload).WhichOneof("type")
        if kind == "new_session":  # sent when a full run starts
            self.pending, self.running = False, True
        elif kind == "script_finished":
            self.running = False

    def settle(self, runs: int = 0) -> None:
        """Wait until the session has asked for at least `runs` runs and none is asked for or running."""
        deadline = time.monotonic() + 30
        while True:
            # First let Playwright deliver the websocket events: the message of a click made just before
            # may not have been seen yet, and without it the session looks idle and this returned at once.
            self.page.wait_for_timeout(50)
            if (
                self.socket is not None
                and self.requested >= runs
                and not (self.pending or self.running)
                and time.monotonic() - self.last_frame > QUIET_SECONDS
            ):
                return
            if time.monotonic() > deadline:
                state = {"runs": self.requested, "pending": self.pending, "running": self.running}
                pytest.fail(f"the app never settled: {state}")

    def visit(self, url: str | None = None) -> None:
        """Open `url` (None: reload) and wait for the new session's first run."""
        self.socket = None  # until the new session's websocket opens, the old session says nothing
        if url is None:
            self.page.reload()
        else:
            self.page.goto(url)
        self.settle(runs=1)

    def reload(self) -> None:
        self.visit(None)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback URL we built)
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@contextmanager
def running_app(
    cwd: Path, log: Path, port: int = 0, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start the studio as `make run` does, on `port` (0: one the kernel picks), and wait until it is healthy.

    Give a port when the pages show images: signed file URLs name the server (PUBLIC_URL), so it must know
    its address before it starts. `extra_env` adds or overrides settings (SMTP_HOST leaves embedded mode).
    """
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "DATA_DIR": str(cwd / "data")}
    # Demo jobs of a fixed 4 s: long enough that the progress panel (polling every second) is seen running
    # however loaded the machine is, not the 1-3 s a demo job may take otherwise.
    env["DEMO_SECONDS"] = "4"
    if port:
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    env |= extra_env or {}
    with _streamlit(ROOT / "studio" / "ui" / "shell" / "server.py", cwd, log, port, env) as base:
        yield base


@contextmanager
def demo_app(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[str, Path]]:
    """The studio in embedded mode in a folder of its own (with the project's .streamlit settings), demo
    jobs of 1 s, on a port known before it starts; yields (its URL, its folder)."""
    cwd = tmp_path_factory.mktemp(name)
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    with running_app(cwd, cwd / "app.log", port=free_port(), extra_env={"DEMO_SECONDS": "1"}) as url:
        yield url, cwd


@contextmanager
def running_script(script: Path, cwd: Path, log: Path) -> Iterator[str]:
    """Serve one Streamlit script of a test's own (a page of components, say) on a port the kernel picks,
    with the project importable and nothing else of the machine's environment; yield its URL."""
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    with _streamlit(script, cwd, log, 0, env) as base:
        yield base


@contextmanager
def _streamlit(script: Path, cwd: Path, log: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """`streamlit run script` on loopback until the context ends, once its health check answers."""
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "URL: http://" in log.read_text() or process.poll() is not None, timeout=90)
        assert process.poll() is None, log.read_text()
        match = re.search(r"URL: (http://127\.0\.0\.1:\d+)", log.read_text())
        assert match, log.read_text()
        base = match.group(1)
        health = f"{base}/_stcore/health"
        wait_for(lambda: http_status(health) == 200 or process.poll() is not None, timeout=90)
        assert process.poll() is None, log.read_text()
        yield base
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def opened_page(browser: Browser, width: int, height: int) -> Iterator[Page]:
    # Tall enough for a whole page: Streamlit scrolls inside its own container, so a full-page shot would not.
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


def sidebar_links(page: Page) -> list[str]:
    """The page names in the sidebar menu (each link also holds its icon's ligature, e.g. "home"); a long
    menu (an admin's) is folded after its first ten links until "View N more" is clicked."""
    more = page.get_by_test_id("stSidebarNavViewButton")
    if more.count() and more.inner_text().endswith("more"):
        more.click()
        expect(more).to_have_text("View less")
    texts = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return [text.strip().splitlines()[-1] for text in texts]


def has_session_cookie(page: Page) -> bool:
    return any(cookie["name"] == "studio_session" for cookie in page.context.cookies())


def demo_sign_in(page: Page, app_url: str, label: str) -> Tab:
    """Sign in through the development sign-in and wait until the session is idle with its cookie written:
    a click during the runs that follow a sign-in can be dropped (see `Tab.settle`)."""
    tab = Tab(page)
    tab.visit(f"{app_url}/sign-in")
    page.get_by_role("button", name=label).click()
    expect(page.get_by_role("heading", name="Generate").first).to_be_visible(timeout=30_000)
    wait_for(lambda: has_session_cookie(page), timeout=20)
    tab.settle()
    return tab


def shoot(page: Page, artifacts: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let the last delta paint; the assertions before this waited on content
    page.screenshot(path=str(artifacts / name), full_page=True)


def loaded(image: Locator) -> bool:
    """The browser fetched and decoded the image (a signed file URL that works), not only an <img> tag."""
    return bool(image.evaluate("img => img.complete && img.naturalWidth > 0"))
