"""A fake fal.ai queue server over TLS, for tests that drive the real fal-client 1.0.3 against it.

It speaks fal's queue protocol (see ../shared/reference/fal-api.md §1.2, §1.3, §1.7):

- ``POST /{owner}/{alias}[/path...]``: submit -> 200 ``{request_id, response_url, status_url, cancel_url,
  queue_position}``; the three URLs drop the ``/path`` part, like real fal;
- ``GET /{owner}/{alias}/requests/{id}/status?logs=..``: IN_QUEUE / IN_PROGRESS (202) or COMPLETED (200);
- ``GET /{owner}/{alias}/requests/{id}``: the output once completed, else 400;
- ``PUT /{owner}/{alias}/requests/{id}/cancel``: 202 CANCELLATION_REQUESTED, or 400 ALREADY_COMPLETED;
- ``GET /files/{id}/{n}.{ext}``: the generated images (right size, mode and format; no auth): solid colour,
  or a colour ellipse on transparency for the cut-outs, a white ellipse on black for a ``mask_image``.

Any endpoint answers like text-to-image (``images[]`` at ``image_size`` / ``aspect_ratio``), except those of
``_ENDPOINTS``, which follow the iteration endpoints' contract (shared with the demo provider) for their
required fields, their image inputs and their answer's shape:

- ``fal-ai/flux/dev/image-to-image``, ``fal-ai/flux-pro/v1/fill``: ``images[]`` at the input image's size
  (fill: 422 on ``mask_url`` when the mask's size differs from the image's);
- ``fal-ai/bria/expand``: ``{image, seed}`` at ``canvas_size`` (422 when the canvas or placement is wrong);
- ``fal-ai/clarity-upscaler``: ``{image, seed, timings}`` at the input size times ``upscale_factor``;
- ``fal-ai/birefnet/v2``: ``{image (RGBA), mask_image (greyscale PNG, when output_mask)}`` at the input size;
- ``fal-ai/lora``: ``images[]`` at ``image_size``, the format named by ``image_format``;
- ``fal-ai/face-to-sticker``: ``images[]``, ``sticker_image``, ``sticker_image_background_removed`` (RGBA
  PNG), ``has_nsfw_concepts`` keyed by image, at ``image_size``.

Their image inputs (``image_url``, ``mask_url``: a ``data:`` URI, or an http(s) URL fetched off the event
loop) are decoded with Pillow when the request is submitted; like every validation error, a missing field
or an image that cannot be loaded makes a 422 (fal's ``detail`` list) at the result, as fal's queue does.

The ``workflows/`` and ``comfy/`` namespaces are kept as a prefix of the app path, as fal-client does.
Only the queue is served: ``fal_client.run`` (sync ``fal.run``) and ``fal_client.upload*`` are not.

Usage from a pytest fixture (the port is held before anything imports fal_client)::

    @pytest.fixture(scope="module")
    def fake_fal() -> Iterator[FakeFal]:
        with FakeFal(reserve_socket()) as server:
            server.check_handshake()
            yield server

and a worker subprocess gets ``env=os.environ | fake_fal.env()``: fal-client reads the hosts when it is
imported, httpx trusts only the test CA through ``SSL_CERT_FILE``.

A request's state is computed from the time elapsed since its submission at each poll: ``queue_time``
seconds IN_QUEUE, then ``latency`` seconds IN_PROGRESS (logs appearing one by one), then COMPLETED.
No thread per request.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import io
import json
import random
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import trustme
import uvicorn
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ASPECT_RATIOS",
    "IMAGE_SIZE_PRESETS",
    "Behaviour",
    "FakeFal",
    "Submitted",
    "reserve_socket",
]

# fal toolkit IMAGE_SIZE_PRESETS (fal-api.md §2.0).
IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
DEFAULT_SIZE = IMAGE_SIZE_PRESETS["landscape_4_3"]

# flux-pro/v1.1-ultra `aspect_ratio` enum -> about 1 MP, sides multiples of 32 (the real model makes ~4 MP;
# smaller keeps the tests fast).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "21:9": (1568, 672),
    "16:9": (1344, 768),
    "4:3": (1152, 864),
    "3:2": (1248, 832),
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:4": (864, 1152),
    "9:16": (768, 1344),
    "9:21": (672, 1568),
}

_FORMATS: dict[str, tuple[str, str, str]] = {  # requested format -> (Pillow format, extension, content type)
    "png": ("PNG", "png", "image/png"),
    "jpeg": ("JPEG", "jpg", "image/jpeg"),
    "jpg": ("JPEG", "jpg", "image/jpeg"),
    "webp": ("WEBP", "webp", "image/webp"),
}
_EXTENSIONS = {ext: (pil, content_type) for pil, ext, content_type in _FORMATS.values()}

# Bodies of injected errors. fal-client 1.0.3 itself retries (up to 10 attempts, ~0.1 s doubling back-off):
# 408, 409 and 429 always, and 502/503/504 only when the body contains "nginx" and the response has no
# x-fal-request-id header (an "ingress error"). These bodies are plain fal-style JSON without "nginx", so an
# injected 5xx reaches the caller as FalClientHTTPError: the studio has to retry those itself.
_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("Bad request", None),
    401: ("Invalid API key", None),
    403: ("Forbidden", None),
    404: ("Not found", None),
    408: ("Request timed out", "request_timeout"),
    409: ("Conflict", None),
    422: ("Unprocessable entity", None),
    429: ("Too many requests", None),
    500: ("Internal server error", "internal_error"),
    502: ("Runner connection error", "runner_connection_error"),
    503: ("Runner scheduling failure", "runner_scheduling_failure"),
    504: ("Request timed out", "request_timeout"),
}
_NAMESPACES = ("workflows", "comfy")
_START_TIMEOUT = 10.0
_FETCH_TIMEOUT = 3.0  # seconds to fetch an http(s) image input
_MAX_INPUT_BYTES = 64 * 1024 * 1024


def reserve_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1 with a kernel-chosen port, held until the server uses it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Behaviour:
    """How the fake answers the requests of one endpoint (or all of them, as the default)."""

    latency: float = 0.0  # seconds IN_PROGRESS, from when the request leaves the queue
    queue_time: float = 0.0  # seconds IN_QUEUE before running
    queue_positions: list[int] = field(default_factory=lambda: [0])  # spread evenly across queue_time
    logs: list[str] = field(default_factory=list)  # appear one by one while IN_PROGRESS, all at the end
    submit_errors: list[int] = field(default_factory=list)  # status codes of the next submits, one each
    submit_delay: float = 0.0  # seconds an accepted submit's answer is held (the request exists meanwhile)
    status_errors: list[int] = field(default_factory=list)  # status codes of the next status polls, one each
    result_error: tuple[int, Any] | None = None  # (status code, body) of the result GET of every request
    never_completes: bool = False  # stays IN_PROGRESS until cancelled
    garbage_result: bool = False  # result GET answers 200 {"images": "not-a-list"}
    result_body: Any = None  # if set: the 200 result body verbatim (str/bytes sent as text, else JSON)
    image_format: str = "png"  # when the request names no format (output_format, format, image_format)


@dataclass(frozen=True)
class Submitted:
    """One submit POST as the fake received it (rejected ones included: then request_id is None)."""

    endpoint_id: str  # the full path, e.g. "fal-ai/flux/dev"
    body: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    request_id: str | None
    at: float  # time.monotonic()
    status_code: int = 200
    query: dict[str, str] = field(default_factory=dict)  # e.g. {"fal_webhook": ...}

    @property
    def accepted(self) -> bool:
        return self.request_id is not None


@dataclass(frozen=True)
class _OutputFile:
    """One file a request makes: served as /files/{request_id}/{n}.{extension}, n its place in the list."""

    key: str  # the answer's key it appears under: "images", "mask_image", "sticker_image", ...
    width: int
    height: int
    mode: str  # Pillow mode: "RGB", "RGBA" (a cut-out on transparency) or "L" (a mask)
    pil_format: str
    extension: str
    content_type: str


@dataclass
class _Job:
    request_id: str
    app: str  # [namespace/]owner/alias: the part the status/result/cancel URLs keep
    endpoint_id: str
    body: dict[str, Any]
    behaviour: Behaviour  # the stored object: status_errors are consumed from it
    submitted_at: float
    submitted_wall: datetime
    seed: int
    rule: _Rule
    files: tuple[_OutputFile, ...]
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)  # image input field -> decoded size
    validation_error: tuple[int, Any] | None = None
    cancelled_at: float | None = None
    output: dict[str, Any] | None = None

    @property
    def started_at(self) -> float:
        return self.submitted_at + self.behaviour.queue_time

    @property
    def finished_at(self) -> float | None:
        """When the request is (or will be) COMPLETED, None while it may still run forever."""
        if self.cancelled_at is not None:
            return self.cancelled_at
        if self.behaviour.never_completes:
            return None
        return self.started_at + self.behaviour.latency


def _error_body(code: int) -> dict[str, Any]:
    detail, error_type = _ERRORS.get(code, (f"Injected error {code}", None))
    return {"detail": detail, "error_type": error_type}


def _as_error(result_error: tuple[int, Any]) -> tuple[str, str | None]:
    """The `error` / `error_type` a COMPLETED status carries for a failed request."""
    body = result_error[1]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    error_type = body.get("error_type") if isinstance(body, dict) else None
    message = detail if isinstance(detail, str) else json.dumps(detail)
    return message, error_type if isinstance(error_type, str) else None


def _validation_error(field_name: str, message: str, value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and len(value) > 200:  # a data: URI would fill the error with base64
        value = value[:200] + "..."
    return 422, {
        "detail": [{"loc": ["body", field_name], "msg": message, "type": "value_error", "input": value}]
    }


class _Invalid(Exception):
    """A value the real model refuses: carries the (422, body) the result GET answers."""

    def __init__(self, field_name: str, message: str, value: Any) -> None:
        super().__init__(message)
        self.refusal = _validation_error(field_name, message, value)


@dataclass(frozen=True)
class _Inputs:
    """What a submit carried, read before the job exists: decoded image sizes, or the first refusal."""

    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    error: tuple[int, Any] | None = None


# --- output sizes and checks of the endpoints (each raises _Invalid for a value the model refuses) -------

Sizes = dict[str, tuple[int, int]]  # image input field -> (width, height) as decoded


def _size_of(body: dict[str, Any], default: tuple[int, int] = DEFAULT_SIZE) -> tuple[int, int]:
    """(width, height) a text-to-image request asks for with `image_size` or `aspect_ratio`."""
    image_size = body.get("image_size")
    if image_size is not None:
        if isinstance(image_size, str):
            if image_size in IMAGE_SIZE_PRESETS:
                return IMAGE_SIZE_PRESETS[image_size]
            raise _Invalid("image_size", f"unknown image size preset {image_size!r}", image_size)
        if isinstance(image_size, dict):
            width, height = image_size.get("width"), image_size.get("height")
            if (
                isinstance(width, int)
                and isinstance(height, int)
                and 0 < width <= 14142
                and 0 < height <= 14142
            ):
                return width, height
        raise _Invalid("image_size", "width and height must be integers in 1..14142", image_size)
    ratio = body.get("aspect_ratio")
    if ratio is not None:
        if ratio in ASPECT_RATIOS:
            return ASPECT_RATIOS[ratio]
        try:
            w_part, h_part = str(ratio).split(":")
            w_ratio, h_ratio = float(w_part), float(h_part)
        except ValueError:
            raise _Invalid("aspect_ratio", f"invalid aspect ratio {ratio!r}", ratio) from None
        if w_ratio <= 0 or h_ratio <= 0:
            raise _Invalid("aspect_ratio", f"invalid aspect ratio {ratio!r}", ratio)
        scale = (1024 * 1024 / (w_ratio * h_ratio)) ** 0.5  # about 1 MP, long side at most 2048
        width = min(2048, max(32, round(w_ratio * scale / 32) * 32))
        height = min(2048, max(32, round(h_ratio * scale / 32) * 32))
        return width, height
    return default


def _requested_size(body: dict[str, Any], sizes: Sizes) -> tuple[int, int]:
    return _size_of(body)


def _sticker_size(body: dict[str, Any], sizes: Sizes) -> tuple[int, int]:
    return _size_of(body, IMAGE_SIZE_PRESETS["square_hd"])  # face-to-sticker's default image_size


def _input_size(body: dict[str, Any], sizes: Sizes) -> tuple[int, int]:
    return sizes["image_url"]


def _upscaled_size(body: dict[str, Any], sizes: Sizes) -> tuple[int, int]:
    factor = body.get("upscale_factor", 2)
    if not isinstance(factor, int | float) or isinstance(factor, bool) or not 1 <= factor <= 4:
        raise _Invalid("upscale_factor", "upscale_factor must be a number in 1..4", factor)
    width, height = sizes["image_url"]
    return round(width * factor), round(height * factor)


def _pair(body: dict[str, Any], name: str) -> tuple[int, int] | None:
    """A [a, b] list of two integers from the body, None when absent; _Invalid when it is something else."""
    value = body.get(name)
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return value[0], value[1]
    raise _Invalid(name, f"{name} must be a list of two integers", value)


def _canvas_size(body: dict[str, Any], sizes: Sizes) -> tuple[int, int]:
    canvas = _pair(body, "canvas_size")
    assert canvas is not None  # a required field: checked before
    if not all(0 < side < 5000 for side in canvas):
        raise _Invalid("canvas_size", "each side of canvas_size must be in 1..4999", list(canvas))
    return canvas


def _expand_fits(body: dict[str, Any], sizes: Sizes) -> None:
    """bria/expand: the stated original size is the real one, and the original placed there fits."""
    width, height = canvas = _canvas_size(body, sizes)
    real = sizes["image_url"]
    stated = _pair(body, "original_image_size")
    if stated is not None and stated != real:
        raise _Invalid(
            "original_image_size",
            f"original_image_size {stated[0]}x{stated[1]} is not the image's {real[0]}x{real[1]}",
            list(stated),
        )
    # Without a location the original is centred (the fake's choice; the studio always sends one).
    x, y = _pair(body, "original_image_location") or ((width - real[0]) // 2, (height - real[1]) // 2)
    if x < 0 or y < 0 or x + real[0] > width or y + real[1] > height:
        raise _Invalid(
            "original_image_location",
            f"the {real[0]}x{real[1]} original at ({x}, {y}) does not fit the {canvas[0]}x{canvas[1]} canvas",
            [x, y],
        )


def _mask_matches(body: dict[str, Any], sizes: Sizes) -> None:
    (mask_w, mask_h), (width, height) = sizes["mask_url"], sizes["image_url"]
    if (mask_w, mask_h) != (width, height):
        raise _Invalid(
            "mask_url",
            f"mask dimensions {mask_w}x{mask_h} do not match the image's {width}x{height}",
            body["mask_url"],
        )


# --- answers: the JSON shape of each endpoint's result, from the described files by key -----------------

Described = dict[str, list[dict[str, Any]]]  # answer key -> its files as fal describes them


def _standard_answer(job: _Job, files: Described) -> dict[str, Any]:
    images = files["images"]
    return {
        "images": images,
        "seed": job.seed,
        "has_nsfw_concepts": [False] * len(images),
        "timings": {"inference": job.behaviour.latency},
        "prompt": job.body.get("prompt", ""),
    }


def _expand_answer(job: _Job, files: Described) -> dict[str, Any]:
    return {"image": files["images"][0], "seed": job.seed}


def _upscale_answer(job: _Job, files: Described) -> dict[str, Any]:
    return {"image": files["images"][0], "seed": job.seed, "timings": {"inference": job.behaviour.latency}}


def _cutout_answer(job: _Job, files: Described) -> dict[str, Any]:
    answer = {"image": files["images"][0]}
    if "mask_image" in files:
        answer["mask_image"] = files["mask_image"][0]
    return answer


def _sticker_answer(job: _Job, files: Described) -> dict[str, Any]:
    return {
        "images": files["images"],
        "sticker_image": files["sticker_image"][0],
        "sticker_image_background_removed": files["sticker_image_background_removed"][0],
        "seed": job.seed,
        "has_nsfw_concepts": dict.fromkeys(
            ("images", "sticker_image", "sticker_image_background_removed"), False
        ),
    }


@dataclass(frozen=True)
class _Extra:
    """A file an endpoint answers besides its images, at the same size."""

    key: str
    mode: str
    png: bool = False  # always PNG, whatever format the images have
    when: str | None = None  # a body field that must be true for the file to be made


@dataclass(frozen=True)
class _Rule:
    """How one endpoint reads its body and what it answers."""

    required: tuple[str, ...] = ()  # missing -> 422 type "missing"
    images: tuple[str, ...] = ()  # image inputs fetched and decoded at submit
    size: Callable[[dict[str, Any], Sizes], tuple[int, int]] = _requested_size
    check: Callable[[dict[str, Any], Sizes], None] | None = None
    max_images: int | None = 8  # num_images in 1..max_images; None: one image, num_images ignored
    mode: str = "RGB"  # of the images
    format_fields: tuple[str, ...] = ("output_format", "format")  # the first present names the format
    extras: tuple[_Extra, ...] = ()
    answer: Callable[[_Job, Described], dict[str, Any]] = _standard_answer


_TEXT_TO_IMAGE = _Rule()
_ENDPOINTS: dict[str, _Rule] = {
    "fal-ai/flux/dev/image-to-image": _Rule(
        required=("prompt", "image_url"), images=("image_url",), size=_input_size, max_images=4
    ),
    "fal-ai/flux-pro/v1/fill": _Rule(
        required=("prompt", "image_url", "mask_url"),
        images=("image_url", "mask_url"),
        size=_input_size,
        check=_mask_matches,
        max_images=4,
    ),
    "fal-ai/bria/expand": _Rule(
        required=("image_url", "canvas_size"),
        images=("image_url",),
        size=_canvas_size,
        check=_expand_fits,
        max_images=None,
        answer=_expand_answer,
    ),
    "fal-ai/clarity-upscaler": _Rule(
        required=("image_url",),
        images=("image_url",),
        size=_upscaled_size,
        max_images=None,
        answer=_upscale_answer,
    ),
    "fal-ai/birefnet/v2": _Rule(
        required=("image_url",),
        images=("image_url",),
        size=_input_size,
        max_images=None,
        mode="RGBA",
        extras=(_Extra("mask_image", "L", png=True, when="output_mask"),),
        answer=_cutout_answer,
    ),
    "fal-ai/lora": _Rule(required=("model_name", "prompt"), max_images=4, format_fields=("image_format",)),
    "fal-ai/face-to-sticker": _Rule(
        required=("image_url", "prompt"),
        images=("image_url",),
        size=_sticker_size,
        max_images=None,
        extras=(
            _Extra("sticker_image", "RGB"),
            _Extra("sticker_image_background_removed", "RGBA", png=True),
        ),
        answer=_sticker_answer,
    ),
}


def _missing(fields: list[str]) -> tuple[int, Any]:
    return 422, {
        "detail": [{"loc": ["body", name], "msg": "Field required", "type": "missing"} for name in fields]
    }


def _data_uri_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise ValueError("not a base64 data URI")
    return base64.b64decode(payload, validate=True)


def _render(file: _OutputFile, seed: int, index: int) -> bytes:
    colour = tuple(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:3])
    size = (file.width, file.height)
    image = Image.new("RGB", size, colour)
    if file.mode in ("RGBA", "L"):  # a cut-out: the centred ellipse is the subject, its mask the alpha
        shape = Image.new("L", size, 0)
        left, top = file.width // 4, file.height // 4
        right, bottom = max(left, file.width * 3 // 4 - 1), max(top, file.height * 3 // 4 - 1)
        ImageDraw.Draw(shape).ellipse((left, top, right, bottom), fill=255)
        if file.mode == "L":
            image = shape
        else:
            image = image.convert("RGBA")
            image.putalpha(shape)
    buffer = io.BytesIO()
    options: dict[str, Any] = {"compress_level": 1} if file.pil_format == "PNG" else {}
    image.save(buffer, format=file.pil_format, **options)
    return buffer.getvalue()


class FakeFal:
    """The fake fal queue server: a Starlette app served by uvicorn over TLS in a daemon thread."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        self._sock = sock if sock is not None else reserve_socket()
        # Accepted connections inherit TCP_NODELAY from the listening socket. Without it every response
        # written by uvicorn over TLS waits ~40 ms for the client's delayed ACK (Nagle), per request.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port: int = self._sock.getsockname()[1]
        self.host = f"localhost:{self.port}"
        self.base_url = f"https://{self.host}"
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-fal-")
        tmp = Path(self._tmp.name)
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        self.ca_path = str(tmp / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self._cert_path = tmp / "server.pem"
        self._key_path = tmp / "server.key"
        self._cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(self._key_path))
        # Image inputs may be https URLs of this fake itself (an earlier output) as well as public ones.
        self._fetch_tls = ssl.create_default_context()
        self._fetch_tls.load_verify_locations(self.ca_path)

        self._cond = threading.Condition(threading.RLock())
        self._behaviours: dict[str | None, Behaviour] = {}
        self._jobs: dict[str, _Job] = {}
        self._files: dict[tuple[str, int], bytes] = {}
        self._submits: list[Submitted] = []
        self._status_polls: dict[str, int] = {}
        self._results_fetched: dict[str, int] = {}
        self._cancels: list[str] = []
        self._file_downloads = 0

        self.app = Starlette(
            routes=[
                Route("/files/{request_id}/{name}", self._file, methods=["GET"]),
                Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT"]),
            ]
        )
        self._server: ReadyServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeFal already started")
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(self._cert_path),
            ssl_keyfile=str(self._key_path),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = ReadyServer(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="fake-fal"
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.ready.wait(0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake fal server did not start")
        if not server.started:
            self.stop()
            raise RuntimeError("the fake fal server did not start")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                raise RuntimeError("the fake fal server did not stop")
        self._sock.close()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment for a process that imports fal_client afterwards (a worker subprocess)."""
        return {
            "FAL_RUN_HOST": self.host,
            "FAL_QUEUE_RUN_HOST": self.host,
            "SSL_CERT_FILE": self.ca_path,
            "FAL_KEY": "test-key:test-secret",
            "NO_PROXY": "localhost,127.0.0.1",
        }

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the fake's CA (e.g. for httpx ``verify=``)."""
        return ssl.create_default_context(cafile=self.ca_path)

    def check_handshake(self, timeout: float = 5.0) -> None:
        """One TLS handshake as a client trusting only ca_path would do; raises at once if TLS is wrong
        (instead of fal-client's ~50 s of retries)."""
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as raw,
                self.ssl_context().wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                tls.getpeercert()
        except (OSError, ssl.SSLError) as exc:
            raise RuntimeError(
                f"TLS handshake with the fake fal server at {self.base_url} failed: {exc}"
            ) from exc

    # --- configuration -----------------------------------------------------------------------------

    def configure(self, endpoint_id: str | None = None, **fields: Any) -> Behaviour:
        """Set the behaviour of one endpoint (a full id like "fal-ai/flux/dev" or an app like "fal-ai/flux"),
        or the default one (None). It replaces any earlier behaviour for that key; unset fields take the
        Behaviour defaults (not the default behaviour's). Lists are copied: the caller's are not consumed."""
        behaviour = Behaviour(**fields)
        for name in ("queue_positions", "logs", "submit_errors", "status_errors"):
            setattr(behaviour, name, list(getattr(behaviour, name)))
        behaviour.result_body = copy.deepcopy(behaviour.result_body)
        if not behaviour.queue_positions:
            behaviour.queue_positions = [0]
        if behaviour.image_format.lower() not in _FORMATS:
            raise ValueError(f"unsupported image_format {behaviour.image_format!r}")
        with self._cond:
            self._behaviours[endpoint_id] = behaviour
        return behaviour

    def reset(self) -> None:
        """Forget the behaviours, the requests, their files and every record."""
        with self._cond:
            self._behaviours.clear()
            self._jobs.clear()
            self._files.clear()
            self._submits.clear()
            self._status_polls.clear()
            self._results_fetched.clear()
            self._cancels.clear()
            self._file_downloads = 0

    # --- records (copies, taken under the lock) ----------------------------------------------------

    @property
    def submits(self) -> list[Submitted]:
        with self._cond:
            return list(self._submits)

    @property
    def status_polls(self) -> dict[str, int]:
        with self._cond:
            return dict(self._status_polls)

    @property
    def results_fetched(self) -> dict[str, int]:
        with self._cond:
            return dict(self._results_fetched)

    @property
    def cancels(self) -> list[str]:
        with self._cond:
            return list(self._cancels)

    @property
    def file_downloads(self) -> int:
        with self._cond:
            return self._file_downloads

    def submit_count(self, endpoint_id: str | None = None, *, accepted_only: bool = False) -> int:
        """Submit POSTs received (of one full endpoint id, or all); rejected ones too unless accepted_only."""
        with self._cond:
            return sum(
                1
                for s in self._submits
                if (endpoint_id is None or s.endpoint_id == endpoint_id) and (s.accepted or not accepted_only)
            )

    def wait_for_submit(self, count: int = 1, timeout: float = 10.0) -> list[Submitted]:
        """Block until at least `count` submit POSTs arrived (rejected ones included); returns them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._submits) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._submits)} of {count} fal submits after {timeout} s")
            return list(self._submits)

    def wait_for(self, condition: Callable[[FakeFal], bool], timeout: float = 10.0) -> None:
        """Block until condition(self) holds; re-checked after every request the fake handles."""
        with self._cond:
            if not self._cond.wait_for(lambda: condition(self), timeout=timeout):
                raise TimeoutError(f"fake fal: condition not met after {timeout} s")

    def job_ids(self) -> list[str]:
        with self._cond:
            return list(self._jobs)

    # --- state -------------------------------------------------------------------------------------

    def _behaviour_for(self, endpoint_id: str, app: str) -> Behaviour:
        for key in (endpoint_id, app, None):
            if key in self._behaviours:
                return self._behaviours[key]
        behaviour = self._behaviours[None] = Behaviour()
        return behaviour

    def _result_error(self, job: _Job) -> tuple[int, Any] | None:
        return job.validation_error or job.behaviour.result_error

    def _status(self, job: _Job, now: float, with_logs: bool) -> tuple[int, dict[str, Any]]:
        behaviour = job.behaviour
        finished_at = job.finished_at
        if job.cancelled_at is None and now < job.started_at:
            positions = behaviour.queue_positions
            elapsed = now - job.submitted_at
            index = min(int(elapsed / behaviour.queue_time * len(positions)), len(positions) - 1)
            return 202, {"status": "IN_QUEUE", "queue_position": positions[index]}
        logs = self._logs(job, now) if with_logs else None
        if finished_at is None or now < finished_at:
            return 202, {"status": "IN_PROGRESS", "logs": logs}
        body: dict[str, Any] = {"status": "COMPLETED", "logs": logs}
        if job.cancelled_at is not None:
            body.update(metrics={}, error="cancelled", error_type="cancelled")
            return 200, body
        body["metrics"] = {"inference_time": behaviour.latency}
        result_error = self._result_error(job)
        if result_error is not None:
            body["error"], body["error_type"] = _as_error(result_error)
        return 200, body

    def _logs(self, job: _Job, now: float) -> list[dict[str, Any]]:
        """Log i appears at started_at + latency * i / n: the first when running starts, all by the end."""
        messages, latency = job.behaviour.logs, job.behaviour.latency
        entries = []
        for i, message in enumerate(messages):
            offset = job.behaviour.queue_time + latency * i / len(messages)
            if job.submitted_at + offset > now:
                break
            stamp = job.submitted_wall + timedelta(seconds=offset)
            entries.append(
                {"message": message, "level": "INFO", "source": "USER", "timestamp": stamp.isoformat()}
            )
        return entries

    def _output(self, job: _Job) -> dict[str, Any]:
        if job.output is None:
            described: Described = {}
            for n, file in enumerate(job.files):
                data = self._file_bytes(job, n)
                described.setdefault(file.key, []).append(
                    {
                        "url": f"{self.base_url}/files/{job.request_id}/{n}.{file.extension}",
                        "width": file.width,
                        "height": file.height,
                        "content_type": file.content_type,
                        "file_name": f"{n}.{file.extension}",
                        "file_size": len(data),
                    }
                )
            job.output = job.rule.answer(job, described)
        return copy.deepcopy(job.output)

    def _file_bytes(self, job: _Job, n: int) -> bytes:
        key = (job.request_id, n)
        with self._cond:
            cached = self._files.get(key)
        if cached is None:
            cached = _render(job.files[n], job.seed, n)
            with self._cond:
                self._files[key] = cached
        return cached

    # --- image inputs ------------------------------------------------------------------------------

    def _received(self, rule: _Rule, body: dict[str, Any]) -> _Inputs:
        """The required fields and the decoded image inputs of a submit (blocking: run in a thread)."""
        missing = [name for name in rule.required if body.get(name) is None]
        if missing:
            return _Inputs(error=_missing(missing))
        sizes: Sizes = {}
        for name in rule.images:
            if name not in body:
                continue
            try:
                sizes[name] = self._load_image(body[name])
            except (ValueError, OSError, httpx.HTTPError, Image.DecompressionBombError):
                return _Inputs(sizes, _validation_error(name, "could not load the image", body[name]))
        return _Inputs(sizes)

    def _load_image(self, url: Any) -> tuple[int, int]:
        """The (width, height) of the image behind a data: URI or an http(s) URL."""
        if not isinstance(url, str):
            raise ValueError("an image URL must be a string")
        if url.startswith("data:"):
            data = _data_uri_bytes(url)
        elif url.startswith(("http://", "https://")):
            response = httpx.get(
                url, timeout=_FETCH_TIMEOUT, verify=self._fetch_tls, trust_env=False, follow_redirects=True
            )
            response.raise_for_status()
            data = response.content
        else:
            raise ValueError("an image URL must be a data: URI or an http(s) URL")
        if len(data) > _MAX_INPUT_BYTES:
            raise ValueError("the image is too large")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size

    # --- HTTP --------------------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        finally:
            with self._cond:
                self._cond.notify_all()

    async def _handle(self, request: Request) -> Response:
        segments = [s for s in request.path_params["path"].split("/") if s]
        app_len = 3 if segments and segments[0] in _NAMESPACES else 2
        if len(segments) < app_len:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        authorised = request.headers.get("authorization", "").startswith("Key ")
        is_request_url = len(segments) in (app_len + 2, app_len + 3) and segments[app_len] == "requests"
        if request.method == "POST" and not is_request_url:
            return await self._submit(request, segments, app_len, authorised)
        if not is_request_url:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        if not authorised:
            return JSONResponse({"detail": "Missing or invalid Authorization header"}, status_code=401)
        app, request_id = "/".join(segments[:app_len]), segments[app_len + 1]
        action = segments[app_len + 2] if len(segments) == app_len + 3 else ""
        with self._cond:
            job = self._jobs.get(request_id)
        if job is None or job.app != app:
            return JSONResponse({"detail": f"Request {request_id} not found"}, status_code=404)
        match (request.method, action):
            case ("GET", "status"):
                return self._status_response(request, job)
            case ("GET", ""):
                return await self._result_response(job)
            case ("PUT", "cancel"):
                return self._cancel_response(job)
        return JSONResponse({"detail": "Method not allowed"}, status_code=405)

    async def _submit(
        self, request: Request, segments: list[str], app_len: int, authorised: bool
    ) -> Response:
        endpoint_id = "/".join(segments)
        app = "/".join(segments[:app_len])
        now, wall = time.monotonic(), datetime.now(UTC)
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        raw = await request.body()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = None
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        rule = _ENDPOINTS.get(endpoint_id, _TEXT_TO_IMAGE)
        inputs = _Inputs()
        if authorised and isinstance(parsed, dict):  # fetched before the lock: it may take a while
            inputs = await run_in_threadpool(self._received, rule, body)

        def record(code: int, request_id: str | None = None) -> None:  # called with the lock held
            self._submits.append(Submitted(endpoint_id, body, headers, request_id, now, code, query))
            self._cond.notify_all()  # a held answer (submit_delay) must not hold back wait_for_submit

        with self._cond:
            if not authorised:
                record(401)
                return JSONResponse({"detail": "Missing or invalid Authorization header"}, status_code=401)
            behaviour = self._behaviour_for(endpoint_id, app)
            if behaviour.submit_errors:
                code = behaviour.submit_errors.pop(0)
                record(code)
                return JSONResponse(_error_body(code), status_code=code)
            if not isinstance(parsed, dict):
                record(422)
                return JSONResponse({"detail": "Request body must be a JSON object"}, status_code=422)
            job = self._new_job(endpoint_id, app, body, behaviour, now, wall, rule, inputs)
            self._jobs[job.request_id] = job
            record(200, job.request_id)
        if behaviour.submit_delay:
            await asyncio.sleep(behaviour.submit_delay)
        base = f"{self.base_url}/{app}/requests/{job.request_id}"
        position = behaviour.queue_positions[0] if behaviour.queue_time > 0 else 0
        return JSONResponse(
            {
                "status": "IN_QUEUE",
                "request_id": job.request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": position,
            },
            headers={"x-fal-request-id": job.request_id},
        )

    def _new_job(
        self,
        endpoint_id: str,
        app: str,
        body: dict[str, Any],
        behaviour: Behaviour,
        now: float,
        wall: datetime,
        rule: _Rule,
        inputs: _Inputs,
    ) -> _Job:
        """The job of an accepted submit; the first value the model refuses becomes its validation error."""
        validation_error = inputs.error
        width, height = DEFAULT_SIZE
        if validation_error is None:  # the size rules need the required fields and the decoded inputs
            try:
                if rule.check is not None:
                    rule.check(body, inputs.sizes)
                width, height = rule.size(body, inputs.sizes)
            except _Invalid as refused:
                validation_error = refused.refusal
        num_images = 1
        if rule.max_images is not None:
            num_images = body.get("num_images", 1)
            if (
                not isinstance(num_images, int)
                or isinstance(num_images, bool)
                or not 1 <= num_images <= rule.max_images
            ):
                validation_error = validation_error or _validation_error(
                    "num_images", f"num_images must be an integer in 1..{rule.max_images}", num_images
                )
                num_images = 1
        seed = body.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            seed = random.randint(0, 2**32 - 1)
        named = next((name for name in rule.format_fields if name in body), None)
        requested = body[named] if named is not None else behaviour.image_format
        fmt = _FORMATS.get(str(requested).lower())
        if fmt is None or (rule.mode == "RGBA" and fmt[0] == "JPEG"):  # JPEG has no transparency
            if fmt is None or named is not None:
                validation_error = validation_error or _validation_error(
                    named or "output_format", f"unsupported format {requested!r}", requested
                )
            fmt = _FORMATS["png" if rule.mode == "RGBA" else behaviour.image_format.lower()]
        files = [_OutputFile("images", width, height, rule.mode, *fmt) for _ in range(num_images)]
        files += [
            _OutputFile(extra.key, width, height, extra.mode, *(_FORMATS["png"] if extra.png else fmt))
            for extra in rule.extras
            if extra.when is None or body.get(extra.when) is True
        ]
        return _Job(
            request_id=str(uuid.uuid4()),
            app=app,
            endpoint_id=endpoint_id,
            body=body,
            behaviour=behaviour,
            submitted_at=now,
            submitted_wall=wall,
            seed=seed,
            rule=rule,
            files=tuple(files),
            inputs=dict(inputs.sizes),
            validation_error=validation_error,
        )

    def _status_response(self, request: Request, job: _Job) -> Response:
        with_logs = request.query_params.get("logs", "false").lower() in ("true", "1")
        with self._cond:
            self._status_polls[job.request_id] = self._status_polls.get(job.request_id, 0) + 1
            if job.behaviour.status_errors:
                code = job.behaviour.status_errors.pop(0)
                return JSONResponse(_error_body(code), status_code=code)
            code, body = self._status(job, time.monotonic(), with_logs)
        return JSONResponse(body, status_code=code)

    async def _result_response(self, job: _Job) -> Response:
        with self._cond:
            self._results_fetched[job.request_id] = self._results_fetched.get(job.request_id, 0) + 1
            finished_at = job.finished_at
            if finished_at is None or time.monotonic() < finished_at:
                return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
            if job.cancelled_at is not None:
                return JSONResponse({"detail": "Request was cancelled"}, status_code=400)
            result_error = self._result_error(job)
            behaviour = job.behaviour
        if result_error is not None:
            code, error_body = result_error
            return JSONResponse(error_body, status_code=code)
        if behaviour.result_body is not None:
            verbatim = behaviour.result_body
            if isinstance(verbatim, str | bytes):
                return Response(verbatim, media_type="text/plain")
            return JSONResponse(verbatim)
        if behaviour.garbage_result:
            return JSONResponse({"images": "not-a-list"})
        output = await run_in_threadpool(self._output, job)
        return JSONResponse(output, headers={"x-fal-request-id": job.request_id})

    def _cancel_response(self, job: _Job) -> Response:
        with self._cond:
            self._cancels.append(job.request_id)
            now = time.monotonic()
            finished_at = job.finished_at
            if finished_at is not None and now >= finished_at:
                return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
            job.cancelled_at = now
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def _file(self, request: Request) -> Response:
        try:
            request_id: str = request.path_params["request_id"]
            stem, _, extension = request.path_params["name"].partition(".")
            with self._cond:
                job = self._jobs.get(request_id)
            if (
                job is None
                or not stem.isdigit()
                or int(stem) >= len(job.files)
                or extension != job.files[int(stem)].extension
            ):
                return JSONResponse({"detail": "File not found"}, status_code=404)
            data = await run_in_threadpool(self._file_bytes, job, int(stem))
            with self._cond:
                self._file_downloads += 1
            return Response(data, media_type=_EXTENSIONS[extension][1])
        finally:
            with self._cond:
                self._cond.notify_all()


class ReadyServer(uvicorn.Server):
    """uvicorn's server, telling the starting thread when it listens (or gave up)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets=sockets)
        finally:
            self.ready.set()
