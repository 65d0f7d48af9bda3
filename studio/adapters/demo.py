"""The demo provider: images made locally with Pillow, for embedded mode without a FAL_KEY.

It behaves like a queue-based provider (a moment in the queue, then running with step logs, then done in
1-3 s) and answers every endpoint it knows with that endpoint's own raw response shape (data: URIs as
urls), so the studio normalises demo results the way it normalises fal's:

    text-to-image (the catalogue's, fal-ai/lora)   a deterministic picture from the prompt and seed
    fal-ai/flux/dev/image-to-image                the input blended with such a picture by `strength`
    fal-ai/flux-pro/v1/fill                       the mask's white region repainted, the rest untouched
    fal-ai/bria/expand                            the input placed on the canvas, a blurred stretch around
    fal-ai/clarity-upscaler                       the input resized by `upscale_factor`
    fal-ai/birefnet/v2                            the subject cut out on transparency, and its mask
    fal-ai/face-to-sticker                        the face blended, cut into a round white-edged sticker

Every output carries a DEMO band so nobody mistakes it for model output (on a fill, inside the repainted
region only). Image inputs must be inline data: URIs: the demo fetches nothing. Requests live in this
process only: after a restart a demo request is gone, as a provider's expired request would be.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

from studio.adapters.provider import ProviderStatus, decode_data_uri, normalise
from studio.domain.catalogue import BY_ENDPOINT, IMAGE_SIZES
from studio.domain.parameters import output_size
from studio.errors import ProviderError, ProviderFailure

QUEUE_SECONDS = 0.3
KEEP_SECONDS = 3600  # like a provider's request history: long enough to fetch, then forgotten
BAND = (0, 0, 0)  # the DEMO band's colour, at the bottom of every output
MASK_BAND = 160  # in a mask (and so in the cut-out's alpha): the band half-opaque, its letters opaque
_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


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


def _invalid(message: str) -> ProviderError:
    return ProviderError(message, code=ProviderFailure.INVALID)


# --- pictures -------------------------------------------------------------------------------------------


def picture(prompt: str, seed: int, width: int, height: int, index: int = 0) -> Image.Image:
    """A deterministic abstract RGB picture for (prompt, seed, index), not yet labelled."""
    digest = hashlib.sha256(f"{prompt}\x00{seed}\x00{index}".encode()).digest()
    rng = random.Random(digest)  # noqa: S311 (pictures, not secrets)

    def colour() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((width, height))
    image = ImageOps.colorize(gradient, colour(), colour()).convert("RGBA")
    overlay = Image.new("RGBA", (width, height))
    draw = ImageDraw.Draw(overlay)
    for _ in range(6 + rng.randrange(6)):
        radius = rng.randrange(max(1, min(width, height) // 10), max(2, min(width, height) // 2))
        x, y = rng.randrange(width), rng.randrange(height)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=(*colour(), rng.randrange(40, 140))
        )
    return Image.alpha_composite(image, overlay).convert("RGB")


def label(
    image: Image.Image,
    heading: str,
    caption: str = "",
    box: tuple[int, int, int, int] | None = None,
    colours: tuple[Any, Any, Any] = (BAND, (255, 200, 0), (235, 235, 235)),
) -> Image.Image:
    """The image, drawn on: a band (heading, caption) across the bottom of `box` (default: all of it)."""
    left, top, right, bottom = box or (0, 0, *image.size)
    size = max(12, min(right - left, bottom - top) // 24)
    font = ImageFont.load_default(size=size)
    band, text, small = colours
    height = int(size * 2.6)
    draw = ImageDraw.Draw(image)
    draw.rectangle((left, bottom - height, right, bottom), fill=band)
    draw.text((left + size // 2, bottom - height + size // 3), heading, font=font, fill=text)
    if caption:
        short = caption if len(caption) <= 60 else caption[:57] + "..."
        draw.text((left + size // 2, bottom - height + int(size * 1.35)), short, font=font, fill=small)
    return image


def encode(image: Image.Image, fmt: str = "png") -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=90)
    elif fmt == "webp":
        image.save(out, "WEBP", lossless=True)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def render(prompt: str, seed: int, width: int, height: int, index: int = 0, fmt: str = "png") -> bytes:
    """A deterministic abstract picture for (prompt, seed, index), labelled as demo output."""
    return encode(label(picture(prompt, seed, width, height, index), f"DEMO · seed {seed}", prompt), fmt)


# --- operations on an input image (pure Pillow: each returns a new image) -------------------------------


def blend(image: Image.Image, art: Image.Image, strength: float) -> Image.Image:
    """`strength` of the way from the input (fitted to the art's size) to the art: 1 is all art."""
    fitted = ImageOps.fit(image.convert("RGB"), art.size)
    return Image.blend(fitted, art.convert("RGB"), max(0.0, min(1.0, strength)))


def binary(mask: Image.Image) -> Image.Image:
    """The mask as exactly 0 (keep) or 255 (repaint): white from 128 up."""
    return mask.convert("L").point([0] * 128 + [255] * 128)


def repaint(image: Image.Image, mask: Image.Image, art: Image.Image) -> Image.Image:
    """The input with the mask's white region taken from the art; every other pixel unchanged."""
    return Image.composite(art.convert("RGB"), image.convert("RGB"), binary(mask))


def expand(image: Image.Image, canvas: tuple[int, int], location: tuple[int, int]) -> Image.Image:
    """The input at `location` on a canvas of `canvas` size, the new border a blurred stretch of it."""
    source = image.convert("RGB")
    backdrop = source.resize(canvas, Image.Resampling.BILINEAR)
    backdrop = backdrop.filter(ImageFilter.GaussianBlur(max(2, max(canvas) // 24)))
    backdrop.paste(source, location)
    return backdrop


def upscale(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    size = (round(width * factor), round(height * factor))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _ellipse(size: tuple[int, int], inset: float) -> Image.Image:
    """A white centred ellipse on black, `inset` of each side left out around it."""
    width, height = size
    shape = Image.new("L", size, 0)
    left, top = int(width * inset), int(height * inset)
    right, bottom = max(left, width - 1 - left), max(top, height - 1 - top)
    ImageDraw.Draw(shape).ellipse((left, top, right, bottom), fill=255)
    return shape


def subject_mask(image: Image.Image) -> Image.Image:
    """White where the image differs from its border's colour (the subject), else a centred ellipse."""
    rgb = image.convert("RGB")
    frame = Image.new("L", rgb.size, 255)  # the outermost pixels: what the background looks like
    if rgb.width > 2 and rgb.height > 2:
        ImageDraw.Draw(frame).rectangle((1, 1, rgb.width - 2, rgb.height - 2), fill=0)
    background = Image.new("RGB", rgb.size, tuple(int(v) for v in ImageStat.Stat(rgb, frame).median))
    red, green, blue = ImageChops.difference(rgb, background).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    mask = distance.point([0] * 40 + [255] * 216)
    coverage = ImageStat.Stat(mask).mean[0] / 255
    return mask if 0.02 <= coverage <= 0.98 else _ellipse(rgb.size, 0.1)


def cut_out(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The image on transparency: the mask is its alpha."""
    rgba = image.convert("RGBA")
    rgba.putalpha(mask.convert("L"))
    return rgba


def sticker(image: Image.Image) -> Image.Image:
    """A round cut-out of the image's centre with a white border, on transparency (RGBA)."""
    side = min(image.size)
    square = ImageOps.fit(image.convert("RGBA"), (side, side))
    ring = max(2, side // 20)
    out = Image.new("RGBA", image.size, (0, 0, 0, 0))
    corner = ((image.width - side) // 2, (image.height - side) // 2)
    outer = _ellipse((side, side), 0.0)
    inner = _ellipse((side, side), ring / side)
    out.paste(Image.new("RGBA", (side, side), (255, 255, 255, 255)), corner, outer)
    out.paste(square, corner, inner)
    return out


# --- endpoints: what each one needs, checks and answers ---------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """One request being answered: its arguments and its decoded image inputs."""

    endpoint_id: str
    arguments: dict[str, Any]
    images: dict[str, Image.Image]
    inference: float  # seconds, for `timings`

    @property
    def prompt(self) -> str:
        return str(self.arguments.get("prompt") or "")

    @property
    def seed(self) -> int:
        return int(self.arguments.get("seed") or 0)

    @property
    def count(self) -> int:
        return int(self.arguments.get("num_images", 1))

    def format(self) -> str:
        for name in ("output_format", "image_format", "format"):  # fal-ai/lora names it image_format
            if self.arguments.get(name):
                return str(self.arguments[name])
        return "png"


def _file(image: Image.Image, fmt: str, name: str) -> dict[str, Any]:
    data = encode(image, fmt)
    content_type = _CONTENT_TYPES.get(fmt, "image/png")
    return {
        "url": f"data:{content_type};base64,{base64.b64encode(data).decode()}",
        "width": image.width,
        "height": image.height,
        "content_type": content_type,
        "file_name": f"{name}.{'jpg' if fmt == 'jpeg' else fmt}",
        "file_size": len(data),
    }


def _standard(call: _Call, images: list[Image.Image]) -> dict[str, Any]:
    """fal's usual answer: images[] with seed, has_nsfw_concepts, timings and prompt."""
    return {
        "images": [_file(image, call.format(), str(n)) for n, image in enumerate(images)],
        "seed": call.seed,
        "has_nsfw_concepts": [False] * len(images),
        "timings": {"inference": call.inference},
        "prompt": call.prompt,
    }


def _image_size(arguments: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    size = arguments.get("image_size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str):
        if size not in IMAGE_SIZES:
            raise _invalid(f"unknown image_size {size!r}")
        return IMAGE_SIZES[size]
    return default


def _pair(arguments: dict[str, Any], name: str) -> tuple[int, int] | None:
    value = arguments.get(name)
    if value is None:
        return None
    if not (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise _invalid(f"{name} must be a list of two integers, not {value!r}")
    return int(value[0]), int(value[1])


def _text_to_image(call: _Call) -> dict[str, Any]:
    spec = BY_ENDPOINT.get(call.endpoint_id)
    width, height = (
        output_size(spec, call.arguments) if spec else _image_size(call.arguments, IMAGE_SIZES["square_hd"])
    )
    heading = f"DEMO · seed {call.seed}"
    pictures = [picture(call.prompt, call.seed, width, height, n) for n in range(call.count)]
    return _standard(call, [label(art, heading, call.prompt) for art in pictures])


def _image_to_image(call: _Call) -> dict[str, Any]:
    source = call.images["image_url"]
    strength = float(call.arguments.get("strength", 0.95))
    images = []
    for n in range(call.count):
        art = picture(call.prompt, call.seed, source.width, source.height, n)
        images.append(label(blend(source, art, strength), f"DEMO · seed {call.seed}", call.prompt))
    return _standard(call, images)


def _fill(call: _Call) -> dict[str, Any]:
    source, mask = call.images["image_url"], binary(call.images["mask_url"])
    images = []
    for n in range(call.count):
        art = picture(call.prompt, call.seed, source.width, source.height, n)
        # The mark goes inside the repainted region: outside the mask the input stays as it was.
        labelled = label(art, f"DEMO · seed {call.seed}", call.prompt, box=mask.getbbox())
        images.append(repaint(source, mask, labelled))
    return _standard(call, images)


def _placement(arguments: dict[str, Any], images: dict[str, Image.Image]) -> tuple[tuple[int, int], ...]:
    """bria/expand's canvas size and where the original goes, checked as fal checks them."""
    source = images["image_url"]
    canvas = _pair(arguments, "canvas_size")
    assert canvas is not None  # required: checked before
    if not all(0 < side < 5000 for side in canvas):
        raise _invalid(f"each side of canvas_size must be in 1..4999, not {canvas[0]}x{canvas[1]}")
    stated = _pair(arguments, "original_image_size")
    if stated is not None and stated != source.size:
        raise _invalid(
            f"original_image_size {stated[0]}x{stated[1]} is not the image's {source.width}x{source.height}"
        )
    location = _pair(arguments, "original_image_location") or (
        (canvas[0] - source.width) // 2,
        (canvas[1] - source.height) // 2,
    )
    x, y = location
    if x < 0 or y < 0 or x + source.width > canvas[0] or y + source.height > canvas[1]:
        raise _invalid(
            f"the {source.width}x{source.height} image at ({x}, {y}) does not fit the "
            f"{canvas[0]}x{canvas[1]} canvas"
        )
    return canvas, location


def _check_expand(arguments: dict[str, Any], images: dict[str, Image.Image]) -> None:
    _placement(arguments, images)


def _expand(call: _Call) -> dict[str, Any]:
    canvas, location = _placement(call.arguments, call.images)
    image = label(expand(call.images["image_url"], canvas, location), "DEMO · expanded", call.prompt)
    return {"image": _file(image, "png", "0"), "seed": call.seed}


def _factor(arguments: dict[str, Any]) -> float:
    factor = arguments.get("upscale_factor", 2)
    if not isinstance(factor, int | float) or not 1 <= factor <= 4:
        raise _invalid(f"upscale_factor must be a number in 1..4, not {factor!r}")
    return float(factor)


def _check_upscale(arguments: dict[str, Any], images: dict[str, Image.Image]) -> None:
    _factor(arguments)


def _upscale(call: _Call) -> dict[str, Any]:
    factor = _factor(call.arguments)
    image = label(upscale(call.images["image_url"], factor), f"DEMO · upscaled {factor:g}x")
    return {"image": _file(image, "png", "0"), "seed": call.seed, "timings": {"inference": call.inference}}


def _check_fill(arguments: dict[str, Any], images: dict[str, Image.Image]) -> None:
    image, mask = images["image_url"], images["mask_url"]
    if mask.size != image.size:
        mask_size, image_size = f"{mask.width}x{mask.height}", f"{image.width}x{image.height}"
        raise _invalid(f"mask dimensions {mask_size} do not match the image's {image_size}")


def _remove_background(call: _Call) -> dict[str, Any]:
    source = call.images["image_url"]
    heading = "DEMO · background removed"
    # The band is drawn into the mask too, so the mask is exactly the cut-out's alpha and shows DEMO.
    mask = label(subject_mask(source), heading, colours=(MASK_BAND, 255, 255))
    fmt = "webp" if call.arguments.get("output_format") == "webp" else "png"
    answer = {"image": _file(cut_out(label(source.convert("RGB"), heading), mask), fmt, "0")}
    if call.arguments.get("output_mask"):
        answer["mask_image"] = _file(mask, "png", "mask")
    return answer


def _face_to_sticker(call: _Call) -> dict[str, Any]:
    width, height = _image_size(call.arguments, IMAGE_SIZES["square_hd"])
    art = picture(call.prompt, call.seed, width, height)
    keep = float(call.arguments.get("instant_id_strength", 0.7))  # how much of the face stays
    face = blend(call.images["image_url"], art, 1 - keep)
    heading = f"DEMO · seed {call.seed}"
    removed = label(sticker(face), heading, call.prompt)
    on_white = Image.alpha_composite(Image.new("RGBA", removed.size, (255, 255, 255, 255)), removed)
    keys = ("images", "sticker_image", "sticker_image_background_removed")
    return {
        "images": [_file(label(face, heading, call.prompt), "png", "0")],
        "sticker_image": _file(on_white.convert("RGB"), "png", "sticker"),
        "sticker_image_background_removed": _file(removed, "png", "sticker_removed"),
        "seed": call.seed,
        "has_nsfw_concepts": dict.fromkeys(keys, False),
    }


Check = Callable[[dict[str, Any], dict[str, Image.Image]], None]


@dataclass(frozen=True)
class _Endpoint:
    """What the demo does for one endpoint: the fields it needs, its image inputs, a check, its answer."""

    answer: Callable[[_Call], dict[str, Any]]
    required: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    check: Check | None = None


_TEXT_TO_IMAGE = _Endpoint(_text_to_image)
_ENDPOINTS: dict[str, _Endpoint] = {
    "fal-ai/flux/dev/image-to-image": _Endpoint(_image_to_image, ("prompt", "image_url"), ("image_url",)),
    "fal-ai/flux-pro/v1/fill": _Endpoint(
        _fill, ("prompt", "image_url", "mask_url"), ("image_url", "mask_url"), _check_fill
    ),
    "fal-ai/bria/expand": _Endpoint(_expand, ("image_url", "canvas_size"), ("image_url",), _check_expand),
    "fal-ai/clarity-upscaler": _Endpoint(_upscale, ("image_url",), ("image_url",), _check_upscale),
    "fal-ai/birefnet/v2": _Endpoint(_remove_background, ("image_url",), ("image_url",)),
    "fal-ai/lora": _Endpoint(_text_to_image, ("model_name", "prompt")),
    "fal-ai/face-to-sticker": _Endpoint(_face_to_sticker, ("image_url", "prompt"), ("image_url",)),
}


def _endpoint(endpoint_id: str) -> _Endpoint:
    known = _ENDPOINTS.get(endpoint_id) or (_TEXT_TO_IMAGE if endpoint_id in BY_ENDPOINT else None)
    if known is None:
        raise ProviderError(f"the demo provider does not know {endpoint_id}", code=ProviderFailure.FAILED)
    return known


def _load(name: str, url: Any) -> Image.Image:
    """An image input, decoded: only inline data: URIs (the demo fetches nothing)."""
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _invalid(
            f"the demo provider only takes inline images (data: URIs); {name} is {str(url)[:60]!r}"
        )
    try:
        data, _ = decode_data_uri(url)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.copy()
    except (ProviderError, OSError, ValueError, Image.DecompressionBombError):
        raise _invalid(f"{name}: could not load the image") from None


def _inputs(endpoint_id: str, endpoint: _Endpoint, arguments: dict[str, Any]) -> dict[str, Image.Image]:
    """The decoded image inputs, once the required fields are there and the endpoint's check passes."""
    missing = [name for name in endpoint.required if arguments.get(name) is None]
    if missing:
        raise _invalid(f"{endpoint_id} needs {', '.join(missing)}")
    images = {name: _load(name, arguments[name]) for name in endpoint.images if name in arguments}
    if endpoint.check is not None:
        endpoint.check(arguments, images)
    return images


class DemoProvider:
    """A local stand-in for fal: same calls, same lifecycle, no network and no cost."""

    name = "demo"

    def __init__(self, *, min_seconds: float = 1.0, max_seconds: float = 3.0) -> None:
        self.min_seconds = min_seconds
        self.max_seconds = max_seconds

    def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> str:
        _inputs(endpoint_id, _endpoint(endpoint_id), arguments)  # refused now, not after the wait
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
        """The answer in the one shape the studio keeps (`studio.adapters.provider.normalise`)."""
        return normalise(endpoint_id, self.answer(endpoint_id, request_id))

    def answer(self, endpoint_id: str, request_id: str) -> dict[str, Any]:
        """The answer as the real endpoint shapes it (a single `image`, a sticker's three keys ...)."""
        request = self._get(request_id)
        if request.cancelled:
            raise ProviderError("the request was cancelled", code=ProviderFailure.FAILED)
        endpoint = _endpoint(request.endpoint_id)
        images = _inputs(request.endpoint_id, endpoint, request.arguments)
        inference = round(max(0.0, request.duration - QUEUE_SECONDS), 3)
        return endpoint.answer(_Call(request.endpoint_id, request.arguments, images, inference))

    def cancel(self, endpoint_id: str, request_id: str) -> None:
        self._get(request_id).cancelled = True

    def download(self, url: str) -> tuple[bytes, str]:
        return decode_data_uri(url)

    def close(self) -> None:
        """Nothing to close: demo requests stay until the process ends, like a provider's history."""
