"""The demo provider: images rendered locally with Pillow, for embedded mode without a FAL_KEY.

It behaves like a queue-based provider (a moment in the queue, then running with step logs, then done in
1-3 s) and draws a deterministic picture from the prompt and seed at the requested size, marked DEMO in the
image itself so nobody mistakes it for model output. Requests live in this process only: after a restart a
demo request is gone, as a provider's expired request would be.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from studio.adapters.provider import ProviderStatus, decode_data_uri
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.parameters import output_size
from studio.errors import ProviderError, ProviderFailure

QUEUE_SECONDS = 0.3
KEEP_SECONDS = 3600  # like a provider's request history: long enough to fetch, then forgotten


@dataclass
class _Request:
    endpoint_id: str
    arguments: dict[str, Any]
    started: float
    duration: float
    steps: int
    cancelled: bool = False


_requests: dict[str, _Request] = {}
_lock = threading.Lock()


def render(prompt: str, seed: int, width: int, height: int, index: int = 0, fmt: str = "png") -> bytes:
    """A deterministic abstract picture for (prompt, seed, index), labelled as demo output."""
    digest = hashlib.sha256(f"{prompt}\x00{seed}\x00{index}".encode()).digest()
    rng = random.Random(digest)  # noqa: S311 (pictures, not secrets)

    def colour() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((width, height))
    image = ImageOps.colorize(gradient, colour(), colour()).convert("RGBA")
    overlay = Image.new("RGBA", (width, height))
    draw = ImageDraw.Draw(overlay)
    for _ in range(6 + rng.randrange(6)):
        radius = rng.randrange(min(width, height) // 10, min(width, height) // 2)
        x, y = rng.randrange(width), rng.randrange(height)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=(*colour(), rng.randrange(40, 140))
        )
    image = Image.alpha_composite(image, overlay).convert("RGB")
    draw = ImageDraw.Draw(image)
    size = max(12, min(width, height) // 24)
    font = ImageFont.load_default(size=size)
    caption = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    band = int(size * 2.6)
    draw.rectangle((0, height - band, width, height), fill=(0, 0, 0))
    draw.text((size // 2, height - band + size // 3), f"DEMO · seed {seed}", font=font, fill=(255, 200, 0))
    draw.text((size // 2, height - band + int(size * 1.35)), caption, font=font, fill=(235, 235, 235))
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


class DemoProvider:
    """A local stand-in for fal: same calls, same lifecycle, no network and no cost."""

    name = "demo"

    def __init__(self, *, min_seconds: float = 1.0, max_seconds: float = 3.0) -> None:
        self.min_seconds = min_seconds
        self.max_seconds = max_seconds

    def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> str:
        if endpoint_id not in BY_ENDPOINT:
            raise ProviderError(f"the demo provider does not know {endpoint_id}", code=ProviderFailure.FAILED)
        request_id = f"demo-{uuid.uuid4()}"
        spread = self.max_seconds - self.min_seconds
        duration = (
            self.min_seconds
            + spread * (int(hashlib.sha256(request_id.encode()).hexdigest(), 16) % 1000) / 1000
        )
        steps = int(arguments.get("num_inference_steps") or 20)
        with _lock:
            now = time.monotonic()
            for old in [key for key, value in _requests.items() if now - value.started > KEEP_SECONDS]:
                del _requests[old]
            _requests[request_id] = _Request(endpoint_id, dict(arguments), time.monotonic(), duration, steps)
        return request_id

    def _get(self, request_id: str) -> _Request:
        with _lock:
            request = _requests.get(request_id)
        if request is None:
            raise ProviderError(
                "the demo request is gone (the app restarted while it ran); please generate again",
                code=ProviderFailure.FAILED,
            )
        return request

    def status(self, endpoint_id: str, request_id: str) -> ProviderStatus:
        request = self._get(request_id)
        if request.cancelled:
            return ProviderStatus("completed", error="cancelled")
        elapsed = time.monotonic() - request.started
        if elapsed < QUEUE_SECONDS:
            return ProviderStatus("queued", queue_position=0 if elapsed > QUEUE_SECONDS / 2 else 1)
        run = request.duration - QUEUE_SECONDS
        done = min(request.steps, int(request.steps * (elapsed - QUEUE_SECONDS) / max(run, 0.01)))
        logs = ["Loading the demo renderer"] + [f"Step {step}/{request.steps}" for step in range(1, done + 1)]
        if elapsed >= request.duration:
            return ProviderStatus("completed", logs=logs)
        return ProviderStatus("running", logs=logs)

    def result(self, endpoint_id: str, request_id: str) -> dict[str, Any]:
        request = self._get(request_id)
        if request.cancelled:
            raise ProviderError("the request was cancelled", code=ProviderFailure.FAILED)
        arguments = request.arguments
        spec = BY_ENDPOINT[request.endpoint_id]
        width, height = output_size(spec, arguments)
        seed = int(arguments.get("seed") or 0)
        fmt = str(arguments.get("output_format") or arguments.get("format") or "png")
        content_type = "image/jpeg" if fmt == "jpeg" else "image/png"
        images = []
        for index in range(int(arguments.get("num_images", 1))):
            data = render(str(arguments.get("prompt", "")), seed, width, height, index, fmt)
            url = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
            images.append({"url": url, "width": width, "height": height, "content_type": content_type})
        return {
            "images": images,
            "seed": seed,
            "has_nsfw_concepts": [False] * len(images),
            "timings": {"inference": round(request.duration - QUEUE_SECONDS, 3)},
            "prompt": arguments.get("prompt", ""),
        }

    def cancel(self, endpoint_id: str, request_id: str) -> None:
        self._get(request_id).cancelled = True

    def download(self, url: str) -> tuple[bytes, str]:
        return decode_data_uri(url)

    def close(self) -> None:
        """Nothing to close: demo requests stay until the process ends, like a provider's history."""
