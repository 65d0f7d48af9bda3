"""Iteration rules: an outpaint's canvas, what an upscale may make, and what changed between two images.

Pure arithmetic on sizes and stored requests; the services decide which images and which endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VARIATION_STRENGTH = (0.3, 0.7)  # image-to-image strength of a variation that stays close to its image
MAX_VARIATIONS = 4
UPSCALE_FACTORS = (2, 4)  # the catalogue's upscaler takes up to 4; no endpoint here documents 8×
MAX_OUTPUT_PIXELS = 40_000_000  # an upscale or an outpaint larger than this is refused before it is sent
MAX_CANVAS_SIDE = 4999  # Bria Expand: each side of the canvas below 5000
MAX_EXTEND = 2048  # per side, in pixels
OUTPAINT_RATIOS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9")


@dataclass(frozen=True)
class Canvas:
    """Where the original goes on the bigger canvas an outpaint fills."""

    width: int
    height: int
    x: int  # the original's top-left corner on the canvas
    y: int

    def studio_fields(self, original: tuple[int, int]) -> dict[str, Any]:
        return {
            "canvas_size": [self.width, self.height],
            "original_image_size": [original[0], original[1]],
            "original_image_location": [self.x, self.y],
        }


def extend(width: int, height: int, left: int, right: int, top: int, bottom: int) -> Canvas:
    """The canvas of an image extended by these many pixels on each side; ValueError says what is wrong."""
    sides = {"left": left, "right": right, "top": top, "bottom": bottom}
    for name, value in sides.items():
        if not 0 <= value <= MAX_EXTEND:
            raise ValueError(f"Extend {name} by 0 to {MAX_EXTEND} pixels; got {value}.")
    if not any(sides.values()):
        raise ValueError("Choose how far to extend the image on at least one side.")
    return _checked(Canvas(width + left + right, height + top + bottom, left, top))


def to_ratio(width: int, height: int, ratio: str) -> Canvas:
    """The smallest canvas of this aspect ratio that holds the image, the image centred on it."""
    if ratio not in OUTPAINT_RATIOS:
        raise ValueError(f"Choose one of {', '.join(OUTPAINT_RATIOS)}; got {ratio!r}.")
    w_part, h_part = (int(part) for part in ratio.split(":"))
    if width * h_part >= height * w_part:  # wide enough: add height
        canvas_w, canvas_h = width, -(-width * h_part // w_part)
    else:
        canvas_w, canvas_h = -(-height * w_part // h_part), height
    if (canvas_w, canvas_h) == (width, height):
        raise ValueError(f"The image is already {ratio}: choose another ratio or extend a side.")
    return _checked(Canvas(canvas_w, canvas_h, (canvas_w - width) // 2, (canvas_h - height) // 2))


def _checked(canvas: Canvas) -> Canvas:
    if max(canvas.width, canvas.height) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"The extended image would be {canvas.width}×{canvas.height}; each side must stay below 5000."
        )
    if canvas.width * canvas.height > MAX_OUTPUT_PIXELS:
        raise ValueError(f"The extended image would be over {MAX_OUTPUT_PIXELS // 1_000_000} megapixels.")
    return canvas


def upscaled(width: int, height: int, factor: int) -> tuple[int, int]:
    """The size of an upscale; ValueError when the factor is not offered or the result is too large."""
    if factor not in UPSCALE_FACTORS:
        raise ValueError(f"Upscale by {' or '.join(f'{f}×' for f in UPSCALE_FACTORS)}; got {factor}×.")
    size = (width * factor, height * factor)
    if size[0] * size[1] > MAX_OUTPUT_PIXELS:
        smaller = [f for f in UPSCALE_FACTORS if width * height * f * f <= MAX_OUTPUT_PIXELS]
        hint = f" Try {smaller[-1]}×." if smaller else ""
        raise ValueError(
            f"{width}×{height} upscaled {factor}× would be {size[0]}×{size[1]}, over "
            f"{MAX_OUTPUT_PIXELS // 1_000_000} megapixels.{hint}"
        )
    return size


# --- lineage ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing that differs between an image and the image it was made from."""

    name: str  # prompt, seed, strength, model, size, factor
    before: str
    after: str

    def __str__(self) -> str:
        if self.name == "prompt":
            return f"prompt: “{_short(self.before)}” → “{_short(self.after)}”"
        return f"{self.name} {self.before} → {self.after}"


@dataclass(frozen=True)
class Facts:
    """What the diff compares of one image (from its row and its stored request)."""

    prompt: str
    seed: int | None
    model: str  # a display name
    width: int
    height: int
    params: dict[str, Any]
    tool: bool = False  # made by an upscale or a background removal: its seed is no choice of anybody's


_COMPARED = (("strength", "strength"), ("upscale_factor", "factor"))


def changes(parent: Facts, child: Facts) -> list[Change]:
    """What changed from `parent` to `child`: prompt, seed, strength, model, size (and an upscale's
    factor), in that order; nothing when they are alike."""
    found: list[Change] = []
    if parent.prompt.strip() != child.prompt.strip():
        found.append(Change("prompt", parent.prompt.strip(), child.prompt.strip()))
    if child.seed is not None and parent.seed != child.seed and not child.tool:
        found.append(Change("seed", _text(parent.seed), _text(child.seed)))
    for key, name in _COMPARED:
        before, after = parent.params.get(key), child.params.get(key)
        if after is not None and before != after:
            found.append(Change(name, _text(before), _text(after)))
    if parent.model != child.model:
        found.append(Change("model", parent.model, child.model))
    if (parent.width, parent.height) != (child.width, child.height):
        found.append(Change("size", f"{parent.width}×{parent.height}", f"{child.width}×{child.height}"))
    return found


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
