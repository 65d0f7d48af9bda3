"""HTTP routes served beside the Streamlit app by st.App (kept off Streamlit's reserved paths)."""

from starlette.routing import BaseRoute, Route

from studio.web.files import signed_file
from studio.web.health import healthz
from studio.web.share import share_preview
from studio.web.stripe_webhook import stripe_webhook


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/files/{token}", signed_file, methods=["GET", "HEAD"]),
        Route("/api/stripe/webhook", stripe_webhook, methods=["POST"]),
        Route("/s/{token}", share_preview, methods=["GET", "HEAD"]),
    ]


__all__ = ["routes"]
