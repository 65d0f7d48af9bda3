"""The seam for image providers: fal.ai (fal-client) in production, a demo renderer in embedded mode.

Generation jobs talk to a provider only through this Protocol. Errors come out as `ProviderError` with a code:

    invalid       the provider refused the parameters (HTTP 422); the message is the model's own
    auth          the provider refused our key (HTTP 401/403): a configuration error for admins
    unavailable   429, 5xx, timeouts, connection errors: `retryable`, tried again with backoff
    failed        anything else the provider reported (an unknown request, a model error)
    bad_output    the provider answered with something that is not the images it promised
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from studio.domain.catalogue import BY_ENDPOINT
from studio.errors import ProviderError, ProviderFailure

MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_DATA_URI = re.compile(
    r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,(?P<data>.*)$", re.S
)


@dataclass(frozen=True)
class ProviderStatus:
    """Where a submitted request stands: in the provider's queue, running, or done (maybe with an error)."""

    state: Literal["queued", "running", "completed"]
    queue_position: int | None = None
    logs: list[str] = field(default_factory=list)
    error: str | None = None


class Provider(Protocol):
    name: str

    def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> str:
        """Send a request; return the provider's request id (stored before anything waits on it)."""
        ...

    def status(self, endpoint_id: str, request_id: str) -> ProviderStatus: ...

    def result(self, endpoint_id: str, request_id: str) -> dict[str, Any]: ...

    def cancel(self, endpoint_id: str, request_id: str) -> None: ...

    def download(self, url: str) -> tuple[bytes, str]:
        """The bytes and content type behind an output URL (https or a data: URI)."""
        ...

    def close(self) -> None: ...


def normalise(endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """One shape for every endpoint's answer: `images` a list (an upscaler's or a background remover's
    single `image` becomes one item), `has_nsfw_concepts` a list of flags, and a `mask_image` kept.

    The catalogue names the keys an endpoint's outputs are under (face-to-sticker answers `images`,
    `sticker_image` and `sticker_image_background_removed`: the studio keeps the cut-out sticker)."""
    spec = BY_ENDPOINT.get(endpoint_id)
    keys = spec.outputs if spec else ("images", "image")
    key = next((name for name in keys if body.get(name)), None)
    found = body.get(key) if key else None
    images = found if isinstance(found, list) else [found] if isinstance(found, dict) else found
    kept = dict(body)
    for name in keys:
        kept.pop(name, None)
    kept["images"] = images
    flags = body.get("has_nsfw_concepts")
    if isinstance(flags, dict):  # face-to-sticker: a flag per output key
        kept["has_nsfw_concepts"] = [bool(flags.get(key))] * len(images or [])
    return kept


def decode_data_uri(url: str) -> tuple[bytes, str]:
    match = _DATA_URI.match(url)
    if match is None:
        raise ProviderError("the provider returned an unreadable data URI", code=ProviderFailure.BAD_OUTPUT)
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(
            "the provider returned an unreadable data URI", code=ProviderFailure.BAD_OUTPUT
        ) from None
    return data, match["type"] or "application/octet-stream"


def download(client: httpx.Client, url: str) -> tuple[bytes, str]:
    """Fetch one output, bounded in size; transient failures are `retryable`."""
    if url.startswith("data:"):
        return decode_data_uri(url)
    if not url.startswith("https://"):
        raise ProviderError(
            f"the provider returned an output URL that is not https: {url[:80]}",
            code=ProviderFailure.BAD_OUTPUT,
        )
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise ProviderError(
                    f"downloading an output failed with HTTP {response.status_code}",
                    code=ProviderFailure.UNAVAILABLE,
                    retryable=True,
                )
            if response.status_code != 200:
                raise ProviderError(
                    f"downloading an output failed with HTTP {response.status_code}",
                    code=ProviderFailure.BAD_OUTPUT,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_OUTPUT_BYTES:
                    raise ProviderError("an output is larger than 64 MB", code=ProviderFailure.BAD_OUTPUT)
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
            return b"".join(chunks), content_type
    except httpx.TransportError as err:
        raise ProviderError(
            f"downloading an output failed: {err}", code=ProviderFailure.UNAVAILABLE, retryable=True
        ) from err
