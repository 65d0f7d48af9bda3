"""The gallery in Debian Chromium: how fast the first page of 48 thumbnails opens, what it transfers, and
what 500 gallery views across 20 sessions leave in the server's memory.

The real app (`streamlit run studio/ui/shell/server.py`, embedded mode: SQLite, local files) on a free
loopback port, as the browser tests start it (tests/support/browser.py). The demo user gets `--images`
images (default 96: two full pages) through the real ingest path (`outputs.inspect`: the PNG original and
its WebP thumbnail of at most 384 px), written into the app's data directory: 1024x1024 PNGs of smooth
colour fields with detail and noise, so the thumbnails weigh what a photo's do (~22 KB), not what a flat
test image's would.

1. Page load, `--loads` samples (default 10), each in fresh browser contexts carrying the demo user's
   session cookie (signed in once through the development sign-in):
   - cold: an empty browser cache opens /gallery (the HTML, Streamlit's scripts, styles and fonts, the
     thumbnails);
   - first view: the app already opened once (/generate, so the static assets are cached), then /gallery:
     what a signed-in user's first gallery view fetches (the thumbnails, no static asset);
   - warm: /gallery again in the cold context (thumbnails cached too).
   Timed, on the page's own clock, from navigation start until all 48 `<img>` of the grid are
   `complete && naturalWidth > 0` (polled every animation frame). Bytes are what Chromium received over
   HTTP (CDP `Network.loadingFinished` encodedDataLength: headers and bodies, 0 for a cache hit) from
   navigation until the session is idle (both script runs done), plus the websocket frames' payloads both
   ways, split into thumbnails (/api/files/...), other HTTP and websocket.
   Targets, on the first view: p95 <= 1.5 s and every sample <= 1.5 MB.
2. Memory: after a warm-up (one session, 10 gallery views), `--sessions` browser contexts (default 20)
   stay open and take turns viewing the gallery, `--views` each (default 25): every fifth view a page
   load (a new Streamlit session), the others Next/Previous (a rerun of the session), each waiting for
   every thumbnail and for the session to be idle. The server's RSS (/proc/<pid>/status VmRSS) after the
   warm-up, along the way, after the last view (sessions still open) and after closing them.
   Target: growth <= 50 MB by the last view.

    uv run python bench/gallery_browser.py [--loads 10] [--sessions 20] [--views 25] [--images 96]

Prints the figures as each part finishes, then one line `gallery_browser: ... -> PASS|FAIL`. Exits 0
either way. ~7 minutes on two cores (~0.65 s a view), most of it the 500 views.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, sync_playwright

from bench._stack import ROOT, CpuMonitor, _hermetic_environment, percentile, verdict
from studio import bootstrap
from studio.adapters.storage import FILES_ROUTE
from studio.domain.accounts import Role
from studio.domain.library import PAGE_SIZE
from studio.services.accounts import demo
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Tab, demo_sign_in, running_app
from tests.support.builders import T0, add_image
from tests.support.env import free_port
from tests.support.services import embedded_settings

MB = 1_000_000
TARGET_SECONDS = 1.5
TARGET_BYTES = 1_500_000
TARGET_GROWTH = 50 * MB
VIEWPORT = {"width": 1440, "height": 1000}
SIDE = 1024
# The page's own clock (ms since navigation start) once the grid holds `count` thumbnails, all decoded
# (the grid is one component, studio/ui/thumbnails.py, with its elements in its own shadow root).
ALL_LOADED = """count => {
    const grid = document.querySelector('[data-testid="stBidiComponentIsolated"]');
    const images = grid && grid.shadowRoot ? grid.shadowRoot.querySelectorAll('.tile img') : [];
    return images.length === count && Array.from(images).every(i => i.complete && i.naturalWidth > 0)
        ? performance.now() : false;
}"""


def picture(seed: int) -> bytes:
    """A 1024x1024 PNG: a smooth colour field, mid-sized detail and a little grain (a WebP thumbnail of
    ~22 KB, as a photo's)."""
    rng = np.random.default_rng(seed)

    def field(cells: int) -> Any:
        coarse = PILImage.fromarray(rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8))
        return np.asarray(coarse.resize((SIDE, SIDE), PILImage.Resampling.BICUBIC), dtype=np.float32)

    pixels = 0.75 * field(6) + 0.4 * (field(72) - 128) + rng.normal(0, 10, (SIDE, SIDE, 3))
    out = io.BytesIO()
    PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "PNG", compress_level=1)
    return out.getvalue()


def seed(data_dir: Path, app_url: str, images: int) -> list[int]:
    """The demo user's images, stored as the ingest stores them; the sizes of their thumbnails."""
    services = bootstrap.build_services(embedded_settings(data_dir, public_url=app_url))
    try:
        user = demo.sign_in_demo(services, Role.USER)
        sizes = []
        for n in range(images):
            image_id = add_image(
                services, user.id, prompt=f"a lighthouse on a basalt cliff, study {n}",
                created_at=T0 + timedelta(minutes=n), data=picture(n),
            )  # fmt: skip
            sizes.append(len(services.storage.get(f"users/{user.id}/thumbs/{image_id.hex}.webp")))
        return sizes
    finally:
        services.close()


# --- what a page view transfers --------------------------------------------------------------------------


class Traffic:
    """Bytes Chromium receives for one page (CDP, over HTTP) and its websocket frames, by kind."""

    def __init__(self, page: Page) -> None:
        self.bytes: Counter[str] = Counter()
        self.fetches: Counter[str] = Counter()  # HTTP requests answered from the network, not the cache
        self.other: list[tuple[int, str]] = []  # (bytes, path) of the fetches that are not thumbnails
        self._kinds: dict[str, str] = {}
        self._paths: dict[str, str] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")
        page.on("websocket", self._socket)

    def reset(self) -> None:
        self.bytes.clear()
        self.fetches.clear()
        self.other = []

    def _request(self, event: dict[str, Any]) -> None:
        path = event["request"]["url"].split("://", 1)[-1]
        self._kinds[event["requestId"]] = "thumbnails" if FILES_ROUTE + "/" in path else "other HTTP"
        self._paths[event["requestId"]] = "/" + path.split("/", 1)[-1][:60]

    def _finished(self, event: dict[str, Any]) -> None:
        kind = self._kinds.get(event["requestId"], "other HTTP")
        received = int(event["encodedDataLength"])
        self.bytes[kind] += received
        self.fetches[kind] += received > 0
        if kind == "other HTTP" and received > 0:
            self.other.append((received, self._paths.get(event["requestId"], "?")))

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)
        socket.on("framesent", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        self.bytes["websocket"] += len(payload)

    def total(self) -> int:
        return sum(self.bytes.values())


@dataclass
class View:
    seconds: float  # navigation start -> every thumbnail decoded, on the page's clock
    traffic: Counter[str]
    fetches: Counter[str]
    other: list[tuple[int, str]]

    @property
    def total(self) -> int:
        return sum(self.traffic.values())


class Visitor:
    """One browser context (one tab) with the demo user's cookie."""

    def __init__(self, browser: Browser, state: Any, app_url: str) -> None:
        self.context: BrowserContext = browser.new_context(viewport=VIEWPORT, storage_state=state)  # type: ignore[arg-type]
        self.page = self.context.new_page()
        self.tab = Tab(self.page)
        self.traffic = Traffic(self.page)
        self.app_url = app_url
        self.shown = 0  # the gallery page number on screen

    def wait_for_thumbnails(self, count: int) -> float:
        handle = self.page.wait_for_function(ALL_LOADED, arg=count, polling="raf", timeout=60_000)
        return float(handle.json_value()) / 1000

    def open(self, path: str, thumbnails: int = 0) -> View:
        """Load `path` (a new session) and wait for its thumbnails and both script runs."""
        self.traffic.reset()
        self.tab.socket = None  # as Tab.visit: until the new session's websocket opens
        self.page.goto(f"{self.app_url}{path}")
        seconds = self.wait_for_thumbnails(thumbnails) if thumbnails else float("nan")
        self.tab.settle(runs=1)
        if path == "/gallery":
            self.shown = 1
        return View(
            seconds, Counter(self.traffic.bytes), Counter(self.traffic.fetches), sorted(self.traffic.other)
        )

    def turn(self, thumbnails: dict[int, int]) -> None:
        """Next from the first page, Previous from any other; wait for the new page's thumbnails."""
        target = self.shown + 1 if self.shown == 1 else self.shown - 1
        runs = self.tab.requested + 1
        self.page.get_by_role("button", name="Next" if target > self.shown else "Previous").click()
        self.tab.settle(runs=runs)
        self.page.get_by_text(f"Page {target} ·").wait_for()
        self.wait_for_thumbnails(thumbnails[target])
        self.shown = target

    def close(self) -> None:
        self.context.close()


# --- the server process ----------------------------------------------------------------------------------


def server_pid() -> int:
    """The `streamlit run` child of this process (running_app starts it)."""
    me = str(os.getpid())
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and b"streamlit" in cmdline:
            return int(status.parent.name)
    raise RuntimeError("the streamlit server process was not found")


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


class Monitor(CpuMonitor):
    """CpuMonitor with the server and Chromium (children of this process) named as ours."""

    OURS = ("bench process (client)", "streamlit server", "chromium")

    def __init__(self, server: int) -> None:
        self.server = server
        super().__init__()

    def _label(self, pid: int, comm: str, top: dict[int, int]) -> str:
        if pid == os.getpid():
            return "bench process (client)"
        if pid in top:
            return "streamlit server" if top[pid] == self.server else "chromium"
        return super()._label(pid, comm, top)


# --- the two measurements --------------------------------------------------------------------------------


def page_loads(browser: Browser, state: Any, app_url: str, loads: int) -> dict[str, list[View]]:
    views: dict[str, list[View]] = {"cold": [], "first view": [], "warm": []}
    for _ in range(loads):
        visitor = Visitor(browser, state, app_url)
        try:
            views["cold"].append(visitor.open("/gallery", PAGE_SIZE))
            views["warm"].append(visitor.open("/gallery", PAGE_SIZE))
        finally:
            visitor.close()
        visitor = Visitor(browser, state, app_url)
        try:
            visitor.open("/generate")  # the app's static assets into the cache
            views["first view"].append(visitor.open("/gallery", PAGE_SIZE))
        finally:
            visitor.close()
    return views


def views_of(visitor: Visitor, n: int, thumbnails: dict[int, int]) -> None:
    """The visitor's n-th view (0-based): a page load every fifth, otherwise a turn of the page."""
    if n % 5 == 0:
        visitor.open("/gallery", thumbnails[1])
    else:
        visitor.turn(thumbnails)


def memory(
    browser: Browser,
    state: Any,
    app_url: str,
    pid: int,
    sessions: int,
    views: int,
    thumbnails: dict[int, int],
) -> tuple[int, list[tuple[int, int]], int, int]:
    """RSS after the warm-up, [(views so far, RSS)] along the way, RSS after closing the sessions, peak."""
    warm = Visitor(browser, state, app_url)
    try:
        for n in range(10):
            views_of(warm, n, thumbnails)
    finally:
        warm.close()
    before = rss(pid)
    print(f"  after the warm-up  {before / MB:7.1f} MB", flush=True)
    trail: list[tuple[int, int]] = []
    visitors: list[Visitor] = []
    done = 0
    try:
        for _ in range(sessions):
            visitors.append(Visitor(browser, state, app_url))
        for n in range(views):
            for visitor in visitors:
                views_of(visitor, n, thumbnails)
                done += 1
                if done % 50 == 0 or done == sessions * views:
                    trail.append((done, rss(pid)))
                    print(
                        f"  after {done:>3} views   {trail[-1][1] / MB:7.1f} MB  "
                        f"({(trail[-1][1] - before) / MB:+.1f})",
                        flush=True,
                    )
    finally:
        for visitor in visitors:
            visitor.close()
    closed = rss(pid)
    return before, trail, closed, rss(pid, "VmHWM")


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def kb(value: float) -> str:
    return f"{value / 1000:,.0f} KB"


def report_loads(loads: dict[str, list[View]], cpu: str) -> None:
    print(
        f"\n1. /gallery, {PAGE_SIZE} thumbnails, {len(loads['cold'])} samples each"
        " (navigation start -> all decoded)"
    )
    for name, views in loads.items():
        seconds = [v.seconds for v in views]
        totals = [v.total for v in views]
        parts = Counter[str]()
        fetches = Counter[str]()
        for view in views:
            parts.update(view.traffic)
            fetches.update(view.fetches)
        split = ", ".join(
            f"{kind} {kb(parts[kind] / len(views))}"
            + (f" ({fetches[kind] / len(views):.0f} fetched)" if kind != "websocket" else "")
            for kind in ("thumbnails", "other HTTP", "websocket")
        )
        print(
            f"  {name:<10} p50 {percentile(seconds, 50):.2f} s  p95 {percentile(seconds, 95):.2f} s  "
            f"max {max(seconds):.2f} s | transferred p50 {kb(percentile(totals, 50))}, "
            f"max {kb(max(totals))}: {split}"
        )
    heaviest = max(loads["first view"], key=lambda v: v.total)
    largest = ", ".join(f"{path} {kb(size)}" for size, path in heaviest.other[::-1][:4])
    print(f"  the heaviest first view's largest fetches besides thumbnails: {largest or 'none'}")
    print(f"  {cpu}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--views", type=int, default=25, help="gallery views per session")
    parser.add_argument("--images", type=int, default=2 * PAGE_SIZE, help="at least PAGE_SIZE + 1")
    args = parser.parse_args()
    if args.images <= PAGE_SIZE:
        parser.error(f"--images must be more than {PAGE_SIZE}: the memory run turns pages")
    _hermetic_environment()
    thumbnails = {1: PAGE_SIZE, 2: min(PAGE_SIZE, args.images - PAGE_SIZE)}
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        cwd = Path(tmp)
        shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
        with running_app(cwd, cwd / "app.log", port=free_port()) as app_url, chromium() as browser:
            pid = server_pid()
            started = time.monotonic()
            sizes = seed(cwd / "data", app_url, args.images)
            print(
                f"\nseeded {args.images} images of {SIDE}x{SIDE} in {time.monotonic() - started:.0f} s; "
                f"WebP thumbnails {kb(min(sizes))} - {kb(max(sizes))}, mean {kb(sum(sizes) / len(sizes))}; "
                f"server RSS {rss(pid) / MB:.0f} MB"
            )
            signing_in = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            try:
                demo_sign_in(signing_in.new_page(), app_url, "Continue as demo user")
                state = signing_in.storage_state()
            finally:
                signing_in.close()

            monitor = Monitor(pid)
            loads = page_loads(browser, state, app_url, args.loads)
            report_loads(loads, monitor.report())
            print(
                f"\n2. server RSS, {args.sessions} sessions x {args.views} gallery views"
                f" (every fifth a page load, the others Next/Previous)",
                flush=True,
            )
            monitor = Monitor(pid)
            before, trail, closed, peak = memory(
                browser, state, app_url, pid, args.sessions, args.views, thumbnails
            )
            print(
                f"  sessions closed   {closed / MB:7.1f} MB  ({(closed - before) / MB:+.1f}); "
                f"peak {peak / MB:.1f}"
            )
            print(f"  {monitor.report()}")

    total_views = args.sessions * args.views
    first = loads["first view"]
    p95 = percentile([v.seconds for v in first], 95)
    most = max(v.total for v in first)
    growth = trail[-1][1] - before
    ok = p95 <= TARGET_SECONDS and most <= TARGET_BYTES and growth <= TARGET_GROWTH
    print(
        f"gallery_browser: first gallery view p95 {p95:.2f} s (target <= {TARGET_SECONDS} s), "
        f"at most {most / MB:.2f} MB transferred (target <= {TARGET_BYTES / MB} MB); "
        f"server RSS +{growth / MB:.1f} MB after {total_views} views"
        f" (target <= {TARGET_GROWTH / MB:.0f} MB) -> {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
