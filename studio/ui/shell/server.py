"""The studio's ASGI entry: Streamlit serving Home.py, plus the studio's own HTTP routes.

Run it with `streamlit run studio/ui/shell/server.py` (what `make run` and the container do). Start-up refuses
unusable settings with a message naming each one, then migrates the schema and starts the job runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from studio import bootstrap, startup
from studio.web import routes, tcp
from studio.web.headers import security_headers

HOME = Path(__file__).resolve().parents[3] / "Home.py"


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    services = await anyio.to_thread.run_sync(startup.start)
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(services.close)


def _navigation_only() -> None:
    """Never run a file of pages/ on its own.

    With a `pages/` folder beside Home.py (the product's layout), Streamlit starts in its old
    pages-folder mode: until some session calls st.navigation, a deep link runs the page file directly,
    without Home.py restoring the account in front of it, and the sidebar lists every file. Home.py
    calls st.navigation on every run, so take the mode that first call would set before any session.
    """
    PagesManager.uses_pages_directory = False


settings = bootstrap.or_exit(bootstrap.services).settings
_navigation_only()
tcp.install()
app = st.App(
    HOME,
    routes=routes(),
    # CSP, HSTS over HTTPS and the rest on every response, Streamlit's own and the studio's routes'.
    middleware=[bootstrap.or_exit(lambda: security_headers(settings))],
    lifespan=lifespan,
)
