"""Images going in: uploads decoded safely, drawn masks checked, and stored files handed to the provider.

An upload is decoded with Pillow before anything is kept: only PNG, JPEG or WebP, at most MAX_UPLOAD_BYTES
and MAX_UPLOAD_PIXELS (checked from the header, before the pixels are decoded, so a decompression bomb
never is), EXIF orientation applied, and re-encoded so no metadata (EXIF, GPS, XMP, ICC) is kept.

Jobs never carry a URL that expires: their stored parameters name a stored file (`reference(key)`), and
`resolve` turns each name into what the provider fetches at the moment the job is sent: a short-lived
presigned URL, or an inline data: URI (embedded mode, tests, storage the provider cannot reach).
"""

from __future__ import annotations

import base64
import io
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image as PILImage
from PIL import ImageOps

from studio.adapters.db.models import Image
from studio.errors import InvalidInput
from studio.services.context import Services
from studio.services.generation.outputs import inspect

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
INPUT_URL_SECONDS = 900  # a presigned input URL outlives the provider's queue wait, not much more
_PREFIX = "studio:file:"
_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class Decoded:
    """An image as the studio keeps it: re-encoded without metadata, upright."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _open(data: bytes, what: str) -> PILImage.Image:
    """The decoded image, or InvalidInput saying why not (checked before the pixels are decoded)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"The {what} is {len(data) / 1_048_576:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 1_048_576} MB."
        )
    if not data:
        raise InvalidInput(f"The {what} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise InvalidInput(
                    f"The {what} is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
                    f"the limit is {MAX_UPLOAD_PIXELS // 1_000_000} megapixels."
                )
            if image.format not in _FORMATS:
                raise InvalidInput(
                    f"The {what} is a {image.format or 'unknown'} file: use a PNG, JPEG or WebP image."
                )
            image.load()
    except InvalidInput:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise InvalidInput(
            f"The {what} has too many pixels to decode safely: the limit is "
            f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels."
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput(f"The {what} is not a readable image: use a PNG, JPEG or WebP image.") from None
    return image


def decode_upload(data: bytes) -> Decoded:
    """An uploaded file as an image the studio may keep; InvalidInput with the reason otherwise."""
    image = _open(data, "upload")
    fmt = str(image.format)
    upright = ImageOps.exif_transpose(image)
    has_alpha = "A" in upright.getbands() or "transparency" in upright.info
    out = io.BytesIO()
    if fmt == "JPEG":
        upright.convert("RGB").save(out, "JPEG", quality=95)
    elif fmt == "WEBP":
        upright.convert("RGBA" if has_alpha else "RGB").save(out, "WEBP", quality=95)
    else:
        upright.convert("RGBA" if has_alpha else "RGB").save(out, "PNG")
    content_type, extension = _FORMATS[fmt]
    return Decoded(out.getvalue(), content_type, extension, upright.width, upright.height)


def read_mask(data: bytes, width: int, height: int) -> bytes:
    """A drawn mask as the provider takes it: a black-and-white PNG of exactly width×height (white =
    repaint). Painted transparency counts as unpainted; InvalidInput when it is the wrong size or empty."""
    image = _open(data, "mask")
    if image.size != (width, height):
        raise InvalidInput(
            f"The mask is {image.width}×{image.height} but the image is {width}×{height}: "
            "draw the mask on this image again."
        )
    rgba = image.convert("RGBA")
    grey = PILImage.composite(rgba.convert("L"), PILImage.new("L", rgba.size, 0), rgba.getchannel("A"))
    mask = grey.point(lambda value: 255 if value >= 128 else 0, mode="L")
    if mask.getbbox() is None:
        raise InvalidInput("The mask is empty: paint over the part of the image to repaint.")
    out = io.BytesIO()
    mask.save(out, "PNG", optimize=True)
    return out.getvalue()


# --- stored files as provider inputs --------------------------------------------------------------------


def reference(key: str) -> str:
    """How a job's stored parameters name a stored file the provider is to fetch."""
    return f"{_PREFIX}{key}"


def referenced_key(value: Any) -> str | None:
    return value[len(_PREFIX) :] if isinstance(value, str) and value.startswith(_PREFIX) else None


def resolve(services: Services, arguments: dict[str, Any]) -> dict[str, Any]:
    """The body to send: each stored file named in `arguments` as a fresh presigned URL or a data: URI."""
    mode = services.settings.provider_inputs_mode
    sent = dict(arguments)
    for name, value in arguments.items():
        key = referenced_key(value)
        if key is None:
            continue
        if mode == "url":
            sent[name] = services.storage.url(key, INPUT_URL_SECONDS)
        else:
            data = services.storage.get(key)
            sent[name] = f"data:{_content_type(key)};base64,{base64.b64encode(data).decode()}"
    return sent


def _content_type(key: str) -> str:
    extension = key.rsplit(".", 1)[-1].lower()
    return {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}.get(
        extension, "application/octet-stream"
    )


def store_mask(services: Services, owner_id: uuid.UUID, mask_png: bytes) -> str:
    """Keep a checked mask for the job that sends it; its key."""
    key = f"users/{owner_id}/masks/{uuid.uuid4()}.png"
    services.storage.put(key, mask_png, "image/png")
    return key


# --- uploads ---------------------------------------------------------------------------------------------


def upload(
    services: Services, owner_id: uuid.UUID, data: bytes, project_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Bring an image into the library (to edit, upscale or start from): checked, kept without metadata,
    with its thumbnail. Free: no job, no credits. Returns the new image's id."""
    decoded = decode_upload(data)
    output = inspect(decoded.data)
    image_id = uuid.uuid4()
    key = f"users/{owner_id}/images/upload-{image_id}.{decoded.extension}"
    thumb = f"users/{owner_id}/thumbs/upload-{image_id}.webp"
    services.storage.put(key, decoded.data, decoded.content_type)
    services.storage.put(thumb, output.thumbnail, "image/webp")
    with services.uow() as uow:
        uow.session.add(
            Image(
                id=image_id,
                owner_id=owner_id,
                operation="upload",
                prompt="",
                model_endpoint="upload",
                params={},
                width=decoded.width,
                height=decoded.height,
                content_type=decoded.content_type,
                byte_size=len(decoded.data),
                storage_key=key,
                thumb_key=thumb,
                phash=output.phash,
                credits=0,
            )
        )
        uow.commit()
    return image_id
