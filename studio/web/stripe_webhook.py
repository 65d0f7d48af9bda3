"""`POST /api/stripe/webhook`: Stripe's events, verified by signature, recorded once, then handled."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from studio import bootstrap
from studio.errors import BadSignature, NotFound, WebhookNotHandled
from studio.services.billing.webhooks import receive_webhook
from studio.services.context import Services

#: Stripe's events are a few kilobytes; anything far larger is not from Stripe.
MAX_BODY_BYTES = 1_000_000


def answer(services: Services, payload: bytes, signature: str) -> tuple[int, str]:
    """The status and text Stripe gets: 200 once handled (or a duplicate), 400 for a bad signature, 404
    while payments are off, 500 when handling failed (Stripe then delivers it again)."""
    try:
        return 200, receive_webhook(services, payload, signature)
    except BadSignature:
        return 400, "bad signature"
    except NotFound as err:
        return 404, str(err)
    except WebhookNotHandled:
        return 500, "not handled; retry"


async def stripe_webhook(request: Request) -> PlainTextResponse:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return PlainTextResponse("too large", status_code=413)
    payload = bytearray()
    async for chunk in request.stream():
        payload += chunk
        if len(payload) > MAX_BODY_BYTES:
            return PlainTextResponse("too large", status_code=413)
    signature = request.headers.get("stripe-signature", "")
    services = bootstrap.services()
    status, text = await anyio.to_thread.run_sync(answer, services, bytes(payload), signature)
    return PlainTextResponse(text, status_code=status, headers={"Cache-Control": "no-store"})
