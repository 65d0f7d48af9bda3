"""`GET /api/files/{token}`: a local-storage object for whoever holds an unexpired signed link."""

import time

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from studio import bootstrap
from studio.adapters.storage import LocalStorage, content_disposition
from studio.errors import NotFound

# Up to this size a file is read in the event loop and sent in one response: a thumbnail (~25 KB) then
# costs ~0.6 ms of server time instead of ~1.8 ms through thread hops (a sync route, then FileResponse's
# threaded stat, open and reads), which decided how fast a page of 48 arrived while the browser was busy.
# Originals (megabytes) stream from a thread as before.
INLINE_BYTES = 256 * 1024


async def signed_file(request: Request) -> Response:
    storage = bootstrap.services().storage
    if not isinstance(storage, LocalStorage):  # S3 hands out presigned URLs of its own
        return PlainTextResponse("not found", status_code=404)
    try:
        granted = storage.open_signed(request.path_params["token"])
    except NotFound as err:
        return PlainTextResponse(str(err), status_code=404, headers={"Cache-Control": "no-store"})
    headers = {
        # The browser may keep the bytes as long as the link is valid, and never run them as a page.
        "Cache-Control": f"private, max-age={max(0, granted.expires_at - int(time.time()))}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if granted.download_name:
        headers["Content-Disposition"] = content_disposition(granted.download_name)
    if granted.size <= INLINE_BYTES:
        try:
            body = granted.path.read_bytes()
        except OSError:  # deleted since it was found
            return PlainTextResponse("no such file", status_code=404, headers={"Cache-Control": "no-store"})
        return Response(body, media_type=granted.content_type, headers=headers)
    return FileResponse(granted.path, media_type=granted.content_type, headers=headers)
