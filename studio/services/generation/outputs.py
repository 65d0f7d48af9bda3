"""Provider outputs: checked, decoded and thumbnailed before anything is stored.

Every output is decoded with Pillow (which refuses decompression bombs) so that only real PNG, JPEG or WebP
images are kept, each with a WebP thumbnail whose long side is at most THUMBNAIL_SIDE and a perceptual
hash for finding near-duplicates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import imagehash
from PIL import Image as PILImage

from studio.errors import ProviderError, ProviderFailure

THUMBNAIL_SIDE = 384
_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
PILImage.MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs; outputs are at most ~4 MP


@dataclass(frozen=True)
class Output:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes
    phash: str  # 64-bit perceptual hash as 16 hex digits: near-identical images get near-equal hashes


def check_output(result: Any) -> None:
    images = result.get("images") if isinstance(result, dict) else None
    if not isinstance(images, list) or not images:
        raise ProviderError("the result has no images", code=ProviderFailure.BAD_OUTPUT)
    for item in images:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ProviderError("an image in the result has no URL", code=ProviderFailure.BAD_OUTPUT)


def _omitted(item: Any) -> Any:
    if isinstance(item, dict) and str(item.get("url", "")).startswith("data:"):
        return item | {"url": "data:omitted"}
    return item


def without_inline_data(result: dict[str, Any]) -> dict[str, Any]:
    """The result as stored: inline data: URIs (megabytes) replaced by a marker."""
    kept = dict(result)
    kept["images"] = [_omitted(item) for item in result["images"]]
    if "mask_image" in result:
        kept["mask_image"] = _omitted(result["mask_image"])
    return kept


def has_omitted_data(result: dict[str, Any]) -> bool:
    items = [*result.get("images", []), result.get("mask_image")]
    return any(isinstance(item, dict) and item.get("url") == "data:omitted" for item in items)


def mask_url(result: dict[str, Any]) -> str | None:
    """The URL of the mask a background removal answered with, if it did."""
    mask = result.get("mask_image")
    return mask["url"] if isinstance(mask, dict) and isinstance(mask.get("url"), str) else None


def perceptual_hash(image: PILImage.Image) -> str:
    """imagehash's pHash (DCT of a 32x32 greyscale copy): a thumbnail hashes like its original."""
    return str(imagehash.phash(image))


def inspect(data: bytes) -> Output:
    """Decode an output to check it really is an image, and make its WebP thumbnail."""
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            if fmt not in _FORMATS:
                raise ProviderError(
                    f"an output is a {fmt or 'unknown'} file, not an image", code=ProviderFailure.BAD_OUTPUT
                )
            image.load()
            width, height = image.size
            thumb = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            thumb.save(out, "WEBP", quality=80, method=4)
            phash = perceptual_hash(thumb)
    except ProviderError:
        raise
    except (OSError, ValueError, PILImage.DecompressionBombError) as err:
        raise ProviderError(
            f"an output is not a readable image: {err}", code=ProviderFailure.BAD_OUTPUT
        ) from err
    content_type, extension = _FORMATS[fmt]
    return Output(data, content_type, extension, width, height, out.getvalue(), phash)
