"""HTTP routes served beside the Streamlit app by st.App (kept off Streamlit's reserved paths).

Each request is logged once, with the route's template rather than its path: the paths of file and share
links hold their tokens, and tokens never reach a log.
"""

import inspect
import logging
import time
from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from studio.web.files import signed_file
from studio.web.health import healthz
from studio.web.share import share_preview
from studio.web.stripe_webhook import stripe_webhook

log = logging.getLogger("studio.web")
Endpoint = Callable[[Request], Response] | Callable[[Request], Awaitable[Response]]


def _logged(template: str, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            if inspect.iscoroutinefunction(endpoint):
                response: Response = await endpoint(request)
            else:
                response = await anyio.to_thread.run_sync(endpoint, request)  # type: ignore[arg-type]
            status = response.status_code
            return response
        finally:
            log.log(
                logging.DEBUG if template == "/healthz" else logging.INFO,  # probes every few seconds
                "%s %s %s",
                request.method,
                template,
                status,
                extra={
                    "method": request.method,
                    "route": template,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    return handle


def routes() -> list[BaseRoute]:
    served: list[tuple[str, Endpoint, list[str]]] = [
        ("/healthz", healthz, ["GET"]),
        ("/api/files/{token}", signed_file, ["GET", "HEAD"]),
        ("/api/stripe/webhook", stripe_webhook, ["POST"]),
        ("/s/{token}", share_preview, ["GET", "HEAD"]),
    ]
    return [
        Route(template, _logged(template, endpoint), methods=methods)
        for template, endpoint, methods in served
    ]


__all__ = ["routes"]
