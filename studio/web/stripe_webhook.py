"""`POST /api/stripe/webhook`: Stripe's events, verified by signature, recorded once, then handled."""

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from studio import bootstrap
from studio.services.billing import receive_webhook

#: Stripe's events are a few kilobytes; anything far larger is not from Stripe.
MAX_BODY_BYTES = 1_000_000


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
    result = await anyio.to_thread.run_sync(receive_webhook, services, bytes(payload), signature)
    return PlainTextResponse(result.message, status_code=result.status, headers={"Cache-Control": "no-store"})
