"""Following a Streamlit session from the browser: its script runs, read from the session's websocket.

Every page load runs the script once; clicks, forms and fragments ask for more runs. A click or a form
submitted while a run is under way is sometimes dropped by Streamlit, so the browser tests wait for the
session to be idle (`Tab.settle`) before they act, never a fixed sleep.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, WebSocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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
