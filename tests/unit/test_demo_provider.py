"""The demo provider: every operation made locally, in the raw shape of its fal endpoint, marked DEMO."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from studio.adapters import demo
from studio.adapters.demo import BAND, MASK_BAND, DemoProvider
from studio.errors import ProviderError, ProviderFailure

I2I = "fal-ai/flux/dev/image-to-image"
FILL = "fal-ai/flux-pro/v1/fill"
EXPAND = "fal-ai/bria/expand"
UPSCALE = "fal-ai/clarity-upscaler"
BIREFNET = "fal-ai/birefnet/v2"
LORA = "fal-ai/lora"
STICKER = "fal-ai/face-to-sticker"
STANDARD_KEYS = {"images", "seed", "has_nsfw_concepts", "timings", "prompt"}
SIZE = (320, 240)


def _uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _photo(size: tuple[int, int] = SIZE) -> Image.Image:
    """A blue subject on an off-white background."""
    image = Image.new("RGB", size, (240, 240, 235))
    width, height = size
    ImageDraw.Draw(image).ellipse(
        (width // 3, height // 6, width * 2 // 3, height * 5 // 6), fill=(30, 90, 200)
    )
    return image


def _mask(size: tuple[int, int] = SIZE, box: tuple[int, int, int, int] = (20, 20, 160, 140)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


PHOTO, MASK = _photo(), _mask()

ARGUMENTS: dict[str, dict[str, Any]] = {
    I2I: {
        "prompt": "a watercolour fox",
        "image_url": _uri(PHOTO, "JPEG"),
        "strength": 0.6,
        "num_inference_steps": 28,
        "guidance_scale": 3.5,
        "num_images": 2,
        "seed": 7,
        "acceleration": "none",
        "enable_safety_checker": True,
        "output_format": "png",
    },
    FILL: {
        "prompt": "a hat",
        "image_url": _uri(PHOTO),
        "mask_url": _uri(MASK),
        "num_images": 1,
        "seed": 7,
        "safety_tolerance": "2",
        "enhance_prompt": False,
        "output_format": "png",
    },
    EXPAND: {
        "image_url": _uri(PHOTO),
        "canvas_size": [480, 320],
        "original_image_size": [320, 240],
        "original_image_location": [80, 10],
        "prompt": "",
        "seed": 7,
    },
    UPSCALE: {
        "image_url": _uri(PHOTO, "WEBP"),
        "upscale_factor": 1.5,
        "prompt": "masterpiece, best quality, highres",
        "negative_prompt": "(worst quality, low quality, normal quality:2)",
        "creativity": 0.35,
        "resemblance": 0.6,
        "guidance_scale": 4,
        "num_inference_steps": 18,
        "seed": 7,
        "enable_safety_checker": True,
    },
    BIREFNET: {
        "image_url": _uri(PHOTO),
        "model": "General Use (Light)",
        "operating_resolution": "1024x1024",
        "output_format": "png",
        "output_mask": True,
        "refine_foreground": True,
    },
    LORA: {
        "model_name": "stabilityai/stable-diffusion-xl-base-1.0",
        "prompt": "a lighthouse",
        "negative_prompt": "",
        "image_size": {"width": 320, "height": 256},
        "num_inference_steps": 30,
        "guidance_scale": 7.5,
        "num_images": 1,
        "seed": 7,
        "loras": [],
        "scheduler": "DPM++ 2M",
        "image_format": "jpeg",
        "enable_safety_checker": True,
    },
    STICKER: {
        "image_url": _uri(PHOTO),
        "prompt": "a person",
        "negative_prompt": "",
        "image_size": {"width": 256, "height": 256},
        "num_inference_steps": 20,
        "guidance_scale": 4.5,
        "instant_id_strength": 0.7,
        "ip_adapter_weight": 0.2,
        "ip_adapter_noise": 0.5,
        "upscale": False,
        "upscale_steps": 10,
        "seed": 7,
        "enable_safety_checker": True,
    },
}

# endpoint -> (the answer's keys, {answer key: [(width, height, mode, format)]})
EXPECTED: dict[str, tuple[set[str], dict[str, list[tuple[int, int, str, str]]]]] = {
    I2I: (STANDARD_KEYS, {"images": [(320, 240, "RGB", "PNG")] * 2}),
    FILL: (STANDARD_KEYS, {"images": [(320, 240, "RGB", "PNG")]}),
    EXPAND: ({"image", "seed"}, {"image": [(480, 320, "RGB", "PNG")]}),
    UPSCALE: ({"image", "seed", "timings"}, {"image": [(480, 360, "RGB", "PNG")]}),
    BIREFNET: (
        {"image", "mask_image"},
        {"image": [(320, 240, "RGBA", "PNG")], "mask_image": [(320, 240, "L", "PNG")]},
    ),
    LORA: (STANDARD_KEYS, {"images": [(320, 256, "RGB", "JPEG")]}),
    STICKER: (
        {"images", "sticker_image", "sticker_image_background_removed", "seed", "has_nsfw_concepts"},
        {
            "images": [(256, 256, "RGB", "PNG")],
            "sticker_image": [(256, 256, "RGB", "PNG")],
            "sticker_image_background_removed": [(256, 256, "RGBA", "PNG")],
        },
    ),
}


@pytest.fixture
def provider() -> DemoProvider:
    return DemoProvider(min_seconds=0.0, max_seconds=0.0)


def _answer(provider: DemoProvider, endpoint: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The raw answer, shaped as the real endpoint shapes it."""
    return provider.answer(endpoint, provider.submit(endpoint, arguments))


@pytest.mark.parametrize("endpoint", [EXPAND, UPSCALE, BIREFNET, STICKER])
def test_the_result_is_normalised_to_a_list_of_images(provider: DemoProvider, endpoint: str) -> None:
    result = provider.result(endpoint, provider.submit(endpoint, ARGUMENTS[endpoint]))
    assert len(result["images"]) == 1
    assert "image" not in result
    assert ("mask_image" in result) == (endpoint == BIREFNET)


def _open(provider: DemoProvider, described: dict[str, Any]) -> Image.Image:
    data, content_type = provider.download(described["url"])
    assert (content_type, len(data)) == (described["content_type"], described["file_size"])
    image = Image.open(io.BytesIO(data))
    assert image.size == (described["width"], described["height"])
    return image


def _files(provider: DemoProvider, answer: dict[str, Any]) -> dict[str, list[Image.Image]]:
    """Every image an answer names, decoded, by answer key."""
    found: dict[str, list[Image.Image]] = {}
    for key, value in answer.items():
        described = value if isinstance(value, list) else [value]
        if all(isinstance(item, dict) and "url" in item for item in described):
            found[key] = [_open(provider, item) for item in described]
    return found


def _banded(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> bool:
    """The DEMO band's colour at the bottom-left of `box` (default: the whole image)."""
    left, _, _, bottom = box or (0, 0, *image.size)
    pixel = image.convert("RGB").getpixel((left + 1, bottom - 2))
    assert isinstance(pixel, tuple)
    return all(abs(value - band) <= 8 for value, band in zip(pixel, BAND, strict=True))  # JPEG: near


@pytest.mark.parametrize("endpoint", list(ARGUMENTS))
def test_each_endpoint_answers_its_shape_and_sizes_marked_demo(provider: DemoProvider, endpoint: str) -> None:
    keys, expected = EXPECTED[endpoint]
    answer = _answer(provider, endpoint, ARGUMENTS[endpoint])

    assert set(answer) == keys
    files = _files(provider, answer)
    assert {key: [(*i.size, i.mode, i.format) for i in images] for key, images in files.items()} == expected
    for key, images in files.items():
        for image in images:
            if key == "mask_image":
                assert image.getpixel((1, image.height - 2)) == MASK_BAND
            elif endpoint != FILL:  # a fill is marked inside its mask: see below
                assert _banded(image), f"{endpoint} {key} has no DEMO band"


def test_the_catalogue_text_to_image_endpoints_still_render(provider: DemoProvider) -> None:
    answer = _answer(
        provider, "fal-ai/flux/schnell", {"prompt": "x", "image_size": "square", "num_images": 2, "seed": 3}
    )
    images = _files(provider, answer)["images"]
    assert [image.size for image in images] == [(512, 512)] * 2
    assert all(_banded(image) for image in images)
    assert (answer["seed"], answer["has_nsfw_concepts"], answer["prompt"]) == (3, [False, False], "x")


def test_fill_leaves_every_unmasked_pixel_untouched(provider: DemoProvider) -> None:
    [out] = _files(provider, _answer(provider, FILL, ARGUMENTS[FILL]))["images"]
    changed = ImageChops.difference(out.convert("RGB"), PHOTO)
    kept = Image.composite(Image.new("RGB", SIZE), changed, MASK)  # black out the repainted region
    assert kept.getbbox() is None
    assert changed.getbbox() == MASK.getbbox()  # the whole of the mask was repainted
    assert _banded(out, MASK.getbbox())  # the DEMO mark, inside the repainted region


def test_fill_refuses_a_mask_of_another_size(provider: DemoProvider) -> None:
    arguments = ARGUMENTS[FILL] | {"mask_url": _uri(_mask((160, 120), (0, 0, 10, 10)))}
    with pytest.raises(
        ProviderError, match=r"mask dimensions 160x120 do not match the image's 320x240"
    ) as err:
        provider.submit(FILL, arguments)
    assert err.value.code is ProviderFailure.INVALID


def test_birefnet_cuts_the_subject_out_and_returns_its_mask(provider: DemoProvider) -> None:
    files = _files(provider, _answer(provider, BIREFNET, ARGUMENTS[BIREFNET]))
    [cutout], [mask] = files["image"], files["mask_image"]
    alpha = cutout.getchannel("A")
    assert alpha.tobytes() == mask.tobytes()  # the mask is the cut-out's alpha
    assert alpha.getpixel((160, 120)) == 255  # the blue subject
    assert alpha.getpixel((5, 5)) == 0  # the background, gone
    assert set(mask.histogram()[1:255]) != {0}  # greyscale: the band and its letters' edges

    without = _answer(provider, BIREFNET, ARGUMENTS[BIREFNET] | {"output_mask": False})
    assert set(without) == {"image"}


def test_subject_mask_falls_back_to_an_ellipse_on_a_plain_image() -> None:
    mask = demo.subject_mask(Image.new("RGB", (100, 80), (10, 200, 10)))
    assert (mask.getpixel((50, 40)), mask.getpixel((0, 0))) == (255, 0)


def test_expand_places_the_original_at_its_location(provider: DemoProvider) -> None:
    [out] = _files(provider, _answer(provider, EXPAND, ARGUMENTS[EXPAND]))["image"]
    above_band = (0, 0, 320, 200)  # the original's rows above the DEMO band
    assert out.crop((80, 10, 400, 210)).tobytes() == PHOTO.crop(above_band).tobytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"canvas_size": [5000, 320]}, "canvas_size must be in 1..4999"),
        ({"original_image_size": [300, 240]}, "original_image_size 300x240 is not the image's 320x240"),
        ({"original_image_location": [200, 10]}, "does not fit the 480x320 canvas"),
        ({"original_image_location": [-1, 0]}, "does not fit"),
    ],
)
def test_expand_refuses_an_original_that_does_not_fit(
    provider: DemoProvider, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderError, match=message) as err:
        provider.submit(EXPAND, ARGUMENTS[EXPAND] | change)
    assert err.value.code is ProviderFailure.INVALID


def test_upscale_resizes_by_the_factor_and_refuses_one_out_of_range(provider: DemoProvider) -> None:
    assert demo.upscale(Image.new("RGB", (64, 48)), 2.5).size == (160, 120)
    with pytest.raises(ProviderError, match=r"upscale_factor must be a number in 1\.\.4") as err:
        provider.submit(UPSCALE, ARGUMENTS[UPSCALE] | {"upscale_factor": 5})
    assert err.value.code is ProviderFailure.INVALID


def test_blend_goes_from_the_input_to_the_picture() -> None:
    art = Image.new("RGB", (64, 48), (0, 0, 0))
    source = Image.new("RGB", (64, 48), (200, 100, 50))
    assert demo.blend(source, art, 0.0).tobytes() == source.tobytes()
    assert demo.blend(source, art, 1.0).tobytes() == art.tobytes()
    assert demo.blend(source, art, 0.5).getpixel((0, 0)) == (100, 50, 25)


def test_the_sticker_is_round_white_edged_and_transparent_around(provider: DemoProvider) -> None:
    files = _files(provider, _answer(provider, STICKER, ARGUMENTS[STICKER]))
    [removed], [on_white] = files["sticker_image_background_removed"], files["sticker_image"]
    assert removed.getpixel((0, 0)) == (0, 0, 0, 0)  # transparent outside the circle
    assert removed.getpixel((128, 2)) == (255, 255, 255, 255)  # its white border
    assert removed.getchannel("A").getpixel((128, 128)) == 255  # the face, opaque
    assert on_white.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("endpoint", "dropped", "message"),
    [
        (FILL, "mask_url", "fal-ai/flux-pro/v1/fill needs mask_url"),
        (I2I, "prompt", "needs prompt"),
        (LORA, "model_name", "needs model_name"),
        (EXPAND, "canvas_size", "needs canvas_size"),
        (STICKER, "image_url", "needs image_url"),
    ],
)
def test_a_missing_required_field_is_refused(
    provider: DemoProvider, endpoint: str, dropped: str, message: str
) -> None:
    arguments = {key: value for key, value in ARGUMENTS[endpoint].items() if key != dropped}
    with pytest.raises(ProviderError, match=message) as err:
        provider.submit(endpoint, arguments)
    assert err.value.code is ProviderFailure.INVALID


@pytest.mark.parametrize(
    ("image_url", "message"),
    [
        ("https://bucket.example.org/photo.png?X-Amz-Signature=abc", "only takes inline images"),
        ("data:image/png;base64," + base64.b64encode(b"not an image").decode(), "could not load the image"),
        ("data:image/png;base64,%%%", "could not load the image"),
    ],
)
def test_an_image_input_must_be_a_readable_data_uri(
    provider: DemoProvider, image_url: str, message: str
) -> None:
    with pytest.raises(ProviderError, match=message) as err:
        provider.submit(I2I, ARGUMENTS[I2I] | {"image_url": image_url})
    assert err.value.code is ProviderFailure.INVALID


def test_an_unknown_endpoint_is_refused(provider: DemoProvider) -> None:
    with pytest.raises(ProviderError, match="does not know") as err:
        provider.submit("fal-ai/nope", {"prompt": "x"})
    assert err.value.code is ProviderFailure.FAILED


def test_a_demo_request_still_queues_then_runs_then_completes() -> None:
    provider = DemoProvider(min_seconds=0.5, max_seconds=0.5)
    request_id = provider.submit(UPSCALE, ARGUMENTS[UPSCALE])
    states = [provider.status(UPSCALE, request_id)]
    deadline = time.monotonic() + 5
    while states[-1].state != "completed" and time.monotonic() < deadline:
        time.sleep(0.05)
        states.append(provider.status(UPSCALE, request_id))
    assert states[0].state == "queued"
    assert "running" in [s.state for s in states]
    assert states[-1].state == "completed"
    assert states[-1].logs[-1] == "Step 18/18"  # num_inference_steps
