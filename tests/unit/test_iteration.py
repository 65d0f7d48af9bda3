"""Iteration rules (outpaint canvases, upscale limits, lineage diffs) and the checks on images going in
(uploads and drawn masks): pure functions over bytes, no services."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from studio.adapters.provider import normalise
from studio.domain.iteration import Facts, changes, extend, to_ratio, upscaled
from studio.errors import InvalidInput
from studio.services.generation.inputs import (
    MAX_UPLOAD_BYTES,
    decode_upload,
    read_mask,
    reference,
    referenced_key,
)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


# --- outpaint and upscale ---------------------------------------------------------------------------------


def test_extending_sides_places_the_original_on_a_bigger_canvas() -> None:
    canvas = extend(1024, 768, left=100, right=50, top=0, bottom=200)
    assert (canvas.width, canvas.height, canvas.x, canvas.y) == (1174, 968, 100, 0)
    assert canvas.studio_fields((1024, 768)) == {
        "canvas_size": [1174, 968],
        "original_image_size": [1024, 768],
        "original_image_location": [100, 0],
    }


def test_a_ratio_makes_the_smallest_canvas_that_holds_the_image_centred() -> None:
    wide = to_ratio(1024, 768, "16:9")
    assert (wide.width, wide.height) == (1366, 768)
    assert (wide.x, wide.y) == (171, 0)
    tall = to_ratio(1024, 768, "9:16")
    assert (tall.width, tall.height, tall.x) == (1024, 1821, 0)
    assert tall.y == (1821 - 768) // 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: extend(512, 512, 0, 0, 0, 0), "at least one side"),
        (lambda: extend(512, 512, -1, 0, 0, 0), "Extend left by 0 to 2048"),
        (lambda: extend(4000, 512, 1000, 0, 0, 0), "below 5000"),
        (lambda: to_ratio(1024, 1024, "1:1"), "already 1:1"),
        (lambda: to_ratio(1024, 1024, "5:4"), "Choose one of"),
        (lambda: upscaled(1024, 1024, 8), "2× or 4×"),
        (lambda: upscaled(2048, 2048, 4), "Try 2×"),
    ],
)
def test_geometry_that_cannot_be_made_is_refused_with_the_reason(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_an_upscale_is_the_size_times_the_factor() -> None:
    assert upscaled(1024, 768, 4) == (4096, 3072)


# --- lineage ---------------------------------------------------------------------------------------------


def test_the_diff_names_what_changed_in_prompt_seed_strength_model_and_size() -> None:
    parent = Facts("a red fox", 12, "FLUX.1 [dev]", 1024, 768, {"num_images": 1})
    child = Facts("a red fox in snow", 99, "FLUX.1 [dev] image-to-image", 1024, 768, {"strength": 0.5})
    found = [str(change) for change in changes(parent, child)]
    assert found == [
        "prompt: “a red fox” → “a red fox in snow”",
        "seed 12 → 99",
        "strength – → 0.5",
        "model FLUX.1 [dev] → FLUX.1 [dev] image-to-image",
    ]
    upscale = Facts("a red fox", None, "Clarity Upscaler", 4096, 3072, {"upscale_factor": 4.0})
    assert [str(change) for change in changes(parent, upscale)] == [
        "factor – → 4",
        "model FLUX.1 [dev] → Clarity Upscaler",
        "size 1024×768 → 4096×3072",
    ]
    assert changes(parent, parent) == []


# --- the provider's answers, one shape ---------------------------------------------------------------------


def test_every_answer_is_normalised_to_a_list_of_images() -> None:
    one = {"url": "https://x/1.png", "width": 8, "height": 8}
    assert normalise("fal-ai/clarity-upscaler", {"image": one, "seed": 3}) == {"images": [one], "seed": 3}
    mask = {"url": "https://x/m.png"}
    cut = normalise("fal-ai/birefnet/v2", {"image": one, "mask_image": mask})
    assert cut == {"images": [one], "mask_image": mask}
    sticker = normalise(
        "fal-ai/face-to-sticker",
        {
            "images": [{"url": "https://x/a.png"}],
            "sticker_image": {"url": "https://x/s.png"},
            "sticker_image_background_removed": one,
            "has_nsfw_concepts": {"images": False, "sticker_image_background_removed": True},
        },
    )
    assert sticker["images"] == [one]
    assert sticker["has_nsfw_concepts"] == [True]
    standard = {"images": [one, one], "has_nsfw_concepts": [False, False]}
    assert normalise("fal-ai/flux/dev", standard) == standard
    assert normalise("fal-ai/flux/dev", normalise("fal-ai/flux/dev", standard)) == standard


# --- uploads ---------------------------------------------------------------------------------------------


def test_an_upload_is_turned_upright_and_loses_its_metadata() -> None:
    photo = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "SecretCam"
    data = encoded(photo, "JPEG", exif=exif.tobytes())
    decoded = decode_upload(data)
    assert (decoded.width, decoded.height, decoded.content_type) == (20, 40, "image/jpeg")
    with Image.open(io.BytesIO(decoded.data)) as kept:
        assert not kept.getexif()
        assert "exif" not in kept.info


def test_a_transparent_png_keeps_its_alpha() -> None:
    decoded = decode_upload(encoded(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), "PNG"))
    with Image.open(io.BytesIO(decoded.data)) as kept:
        assert kept.mode == "RGBA"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size in its header (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4 not an image", "not a readable image"),
        (b"", "empty"),
        (b"\0" * (MAX_UPLOAD_BYTES + 1), "the limit is 20 MB"),
        (_png_header_only(10_000, 10_000), "the limit is 40 megapixels"),
        (_png_header_only(60_000, 60_000), "megapixels"),
        (encoded(Image.new("RGB", (4, 4)), "GIF"), "GIF file"),
        (encoded(Image.new("RGB", (4, 4)), "BMP"), "BMP file"),
    ],
    ids=["pdf", "empty", "over-20MB", "40MP-bomb", "huge-bomb", "gif", "bmp"],
)
def test_what_is_not_a_safe_image_is_refused_with_a_message(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_upload(data)


# --- masks -----------------------------------------------------------------------------------------------


def test_a_mask_is_binarised_to_white_where_painted() -> None:
    drawn = Image.new("RGBA", (10, 10), (0, 0, 0, 255))
    drawn.paste((255, 255, 255, 255), (0, 0, 5, 10))
    drawn.putpixel((9, 9), (200, 200, 200, 255))  # antialiased grey counts as painted
    drawn.putpixel((8, 9), (255, 255, 255, 0))  # painted but transparent: not painted
    mask = read_mask(encoded(drawn, "PNG"), 10, 10)
    with Image.open(io.BytesIO(mask)) as checked:
        assert checked.mode == "L"
        assert set(checked.get_flattened_data()) == {0, 255}
        assert checked.getpixel((9, 9)) == 255
        assert checked.getpixel((8, 9)) == 0
    with Image.open(io.BytesIO(mask)) as checked:
        assert checked.histogram()[255] == 51  # the left half (50) and the grey pixel


def test_a_mask_of_the_wrong_size_or_empty_is_refused() -> None:
    with pytest.raises(InvalidInput, match="The mask is 10×8 but the image is 10×10"):
        read_mask(encoded(Image.new("L", (10, 8), 255), "PNG"), 10, 10)
    with pytest.raises(InvalidInput, match="The mask is empty"):
        read_mask(encoded(Image.new("L", (10, 10), 0), "PNG"), 10, 10)
    with pytest.raises(InvalidInput, match="not a readable image"):
        read_mask(b"<svg/>", 10, 10)


def test_a_stored_file_is_named_by_reference_never_by_url() -> None:
    assert referenced_key(reference("users/u/images/a.png")) == "users/u/images/a.png"
    assert referenced_key("https://example.com/a.png") is None
    assert referenced_key(3) is None
