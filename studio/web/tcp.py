"""TCP_NODELAY on the connections Streamlit's server accepts.

Streamlit binds its listening socket itself, as `socket.socket(family=...)`: protocol 0, so asyncio does
not set TCP_NODELAY on the connections it accepts (it does so only for sockets whose protocol is
IPPROTO_TCP). uvicorn writes a response's headers and its body separately, so on a reused (keep-alive)
connection the body waits for the client's delayed ACK of the headers: about 40 ms on every request but a
connection's first (curl, a second request on one connection: 44 ms, 1 ms with TCP_NODELAY). A gallery
page's 48 thumbnails come over a browser's 6 connections, 8 requests each.

`streamlit run` binds the socket, then uvicorn imports the app (studio/ui/shell/server.py, which calls
`install()`), then `uvicorn.Server.startup(sockets)` serves it. `install()` wraps that method to set
TCP_NODELAY on the listening socket first; on Linux each accepted connection inherits it.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn

Startup = Callable[[uvicorn.Server, list[socket.socket] | None], Coroutine[Any, Any, None]]


def no_delay(startup: Startup) -> Startup:
    @functools.wraps(startup)
    async def serve_without_nagle(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        for sock in sockets or ():
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await startup(server, sockets)

    return serve_without_nagle


def install() -> None:
    startup: Any = uvicorn.Server.startup
    if not hasattr(startup, "__wrapped__"):
        uvicorn.Server.startup = no_delay(startup)  # type: ignore[method-assign,assignment]
