"""The model catalogue, parameter validation and pricing: pure rules, no IO."""

from __future__ import annotations

from typing import Any

import pytest

from studio.domain.catalogue import BY_ENDPOINT, CATALOGUE, PROMPT_MAX_CHARS, STYLE_PRESETS, Kind, Param
from studio.domain.credits import billable_megapixels, price, standard_image_credits
from studio.domain.parameters import Request, output_size, provider_arguments
from studio.errors import InvalidParameters

ULTRA = BY_ENDPOINT["fal-ai/flux-pro/v1.1-ultra"]
DEV = BY_ENDPOINT["fal-ai/flux/dev"]
SDXL = BY_ENDPOINT["fal-ai/fast-sdxl"]
LIGHTNING = BY_ENDPOINT["rundiffusion-fal/juggernaut-flux/lightning"]
AURA = BY_ENDPOINT["fal-ai/aura-flow"]


def arguments(spec_id: str, prompt: str = "a lighthouse at dusk", **params: Any) -> dict[str, Any]:
    return provider_arguments(BY_ENDPOINT[spec_id], Request(spec_id, prompt, params=params))


def problems(spec_id: str, prompt: str = "a lighthouse", negative: str = "", **params: Any) -> list[str]:
    with pytest.raises(InvalidParameters) as caught:
        provider_arguments(BY_ENDPOINT[spec_id], Request(spec_id, prompt, negative, params=params))
    return caught.value.problems


GENERATORS = [spec for spec in CATALOGUE if not spec.inputs]
EDITORS = [spec for spec in CATALOGUE if spec.inputs]


def test_the_catalogue_has_the_seventeen_endpoints_once_each() -> None:
    assert len(CATALOGUE) == 17 == len(BY_ENDPOINT)
    for endpoint in (
        "rundiffusion-fal/rundiffusion-photo-flux",
        "fal-ai/flux-pro/v1.1-ultra",
        "rundiffusion-fal/juggernaut-flux/pro",
        "rundiffusion-fal/juggernaut-flux/lightning",
        "fal-ai/flux/dev",
        "fal-ai/flux/schnell",
        "fal-ai/flux-pro/v1.1",
        "fal-ai/fast-sdxl",
        "fal-ai/flux-lora",
        "fal-ai/aura-flow",
        "fal-ai/lora",
        "fal-ai/flux/dev/image-to-image",
        "fal-ai/face-to-sticker",
        "fal-ai/flux-pro/v1/fill",
        "fal-ai/bria/expand",
        "fal-ai/clarity-upscaler",
        "fal-ai/birefnet/v2",
    ):
        spec = BY_ENDPOINT[endpoint]
        assert spec.name
        assert spec.description
        assert spec.capabilities
        assert spec.price_micros > 0


@pytest.mark.parametrize("spec", GENERATORS, ids=lambda spec: spec.endpoint_id)
def test_defaults_alone_make_a_complete_request(spec: Any) -> None:
    sent = provider_arguments(spec, Request(spec.endpoint_id, "  a cat  "))
    assert sent["prompt"] == "a cat"
    defaults = {param.name: param.default for param in spec.params if param.default is not None}
    assert {key: sent[key] for key in defaults} == defaults
    assert set(sent) <= {"prompt", "negative_prompt"} | {param.name for param in spec.params} | set(
        spec.fixed
    )
    assert "sync_mode" not in sent


@pytest.mark.parametrize("spec", EDITORS, ids=lambda spec: spec.endpoint_id)
def test_an_editor_needs_its_images_and_sends_them_as_the_studio_set_them(spec: Any) -> None:
    prompt = "" if spec.prompt == "none" else "a cat"
    with pytest.raises(InvalidParameters, match="needs an input image"):
        provider_arguments(spec, Request(spec.endpoint_id, prompt))
    fields = {name: f"studio:file:users/u/images/{name}.png" for name in spec.inputs}
    sent = provider_arguments(spec, Request(spec.endpoint_id, prompt), fields)
    assert {name: sent[name] for name in spec.inputs} == fields
    assert ("prompt" in sent) == (spec.prompt != "none" or "prompt" in spec.fixed)


def test_a_tool_without_a_prompt_refuses_one_and_one_with_an_optional_prompt_takes_none() -> None:
    upscaler = BY_ENDPOINT["fal-ai/clarity-upscaler"]
    fields = {"image_url": "studio:file:k.png"}
    with pytest.raises(InvalidParameters, match="does not take a prompt"):
        provider_arguments(upscaler, Request(upscaler.endpoint_id, "x"), fields)
    expand = BY_ENDPOINT["fal-ai/bria/expand"]
    canvas = fields | {"canvas_size": [8, 8]}
    assert provider_arguments(expand, Request(expand.endpoint_id, ""), canvas)["prompt"] == ""


def test_an_edit_is_priced_on_the_size_it_makes() -> None:
    fill = BY_ENDPOINT["fal-ai/flux-pro/v1/fill"]
    fields = {"image_url": "studio:file:a.png", "mask_url": "studio:file:m.png"}
    sent = provider_arguments(fill, Request(fill.endpoint_id, "a hat"), fields)
    assert price(fill, sent, (1024, 1024)).credits == 2  # $0.05 per megapixel
    assert price(fill, sent, (2048, 1536)).credits == 6  # three megapixels
    upscaler = BY_ENDPOINT["fal-ai/clarity-upscaler"]
    sent = provider_arguments(
        upscaler, Request(upscaler.endpoint_id, "", params={"upscale_factor": 4}), {"image_url": "x"}
    )
    assert output_size(upscaler, sent, (512, 384)) == (2048, 1536)
    assert price(upscaler, sent, (512, 384)).credits == 2 * 3  # $0.03/MP on 3 MP, rounded up per MP
    expand = BY_ENDPOINT["fal-ai/bria/expand"]
    sent = provider_arguments(
        expand, Request(expand.endpoint_id, ""), {"image_url": "x", "canvas_size": [3000, 2000]}
    )
    assert price(expand, sent, (1024, 1024)).credits == 2  # $0.04 a generation, whatever the size


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.endpoint_id)
def test_the_schema_survives_the_database_round_trip(spec: Any) -> None:
    stored = spec.schema_json()
    assert tuple(Param.from_json(item) for item in stored["params"]) == spec.params
    assert (stored["operation"], tuple(stored["inputs"]), stored["size_rule"]) == (
        spec.operation,
        spec.inputs,
        spec.size_rule,
    )


def test_each_model_gets_only_the_parameter_names_it_accepts() -> None:
    ultra = arguments(ULTRA.endpoint_id, aspect_ratio="1:1", raw=True)
    assert ultra["aspect_ratio"] == "1:1"
    assert ultra["raw"] is True
    assert not {"image_size", "num_inference_steps", "guidance_scale", "enable_safety_checker"} & set(ultra)
    assert ultra["safety_tolerance"] == "2"
    lightning = arguments(LIGHTNING.endpoint_id)
    assert "guidance_scale" not in lightning
    assert lightning["num_inference_steps"] == 4
    sdxl = arguments(SDXL.endpoint_id)
    assert sdxl["format"] == "jpeg"
    assert "output_format" not in sdxl
    assert sdxl["negative_prompt"] == ""
    assert set(arguments(AURA.endpoint_id)) == {
        "prompt", "num_images", "num_inference_steps", "guidance_scale", "expand_prompt"
    }  # fmt: skip


def test_a_parameter_the_model_does_not_take_is_refused_by_name() -> None:
    assert problems(ULTRA.endpoint_id, image_size="square_hd") == [
        "FLUX1.1 [pro] ultra does not accept the parameter 'image_size'"
    ]
    assert problems(DEV.endpoint_id, negative="blurry") == ["FLUX.1 [dev] does not take a negative prompt"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_images": 5}, "Images (num_images) must be between 1 and 4; got 5"),
        ({"num_images": 2.5}, "Images (num_images) must be a whole number between 1 and 4"),
        ({"num_inference_steps": 0}, "Steps (num_inference_steps) must be between 1 and 50; got 0"),
        ({"guidance_scale": 25}, "Guidance (guidance_scale) must be between 1 and 20; got 25"),
        ({"guidance_scale": "lots"}, "Guidance (guidance_scale) must be a number between 1 and 20"),
        ({"guidance_scale": float("nan")}, "Guidance (guidance_scale) must be a number between 1 and 20"),
        ({"seed": -1}, "Seed (seed) must be between 0 and 4294967295; got -1"),
        ({"enable_safety_checker": "no"}, "Safety checker (enable_safety_checker) must be true or false"),
        ({"output_format": "gif"}, "File format (output_format) must be one of jpeg, png; got gif"),
        ({"image_size": "huge"}, "Size (image_size) must be one of square_hd"),
        (
            {"image_size": {"width": 4096, "height": 1024}},
            "between 256 and 2048 in steps of 8; got width 4096",
        ),
        ({"image_size": {"width": 1001, "height": 1024}}, "got width 1001"),
    ],
)
def test_out_of_range_values_name_the_parameter_and_its_range(params: dict[str, Any], message: str) -> None:
    found = problems(DEV.endpoint_id, **params)
    assert len(found) == 1
    assert message in found[0]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(DEV.endpoint_id, prompt="", num_images=9, seed="x", colour="red")
    assert len(found) == 4
    assert found[0] == "The prompt is empty: describe the image you want"


def test_prompts_have_a_length_limit_and_no_control_characters() -> None:
    assert problems(DEV.endpoint_id, prompt="x" * (PROMPT_MAX_CHARS + 1)) == [
        f"The prompt is {PROMPT_MAX_CHARS + 1} characters long; the limit is {PROMPT_MAX_CHARS}"
    ]
    assert problems(DEV.endpoint_id, prompt="a\x00b") == ["The prompt contains control characters"]
    assert arguments(DEV.endpoint_id, prompt="x" * PROMPT_MAX_CHARS)["prompt"] == "x" * PROMPT_MAX_CHARS


def test_loras_need_https_weights_and_a_scale_in_range() -> None:
    lora = "https://huggingface.co/user/style/resolve/main/style.safetensors"
    sent = arguments("fal-ai/flux-lora", loras=[{"path": lora, "scale": 0.8}])
    assert sent["loras"] == [{"path": lora, "scale": 0.8}]
    assert "needs an https:// URL" in problems("fal-ai/flux-lora", loras=[{"path": "file:///etc/passwd"}])[0]
    assert (
        "LoRA scale (scale) must be between 0 and 4"
        in problems("fal-ai/flux-lora", loras=[{"path": lora, "scale": 9}])[0]
    )
    assert "up to 3 LoRAs" in problems("fal-ai/flux-lora", loras=[{"path": lora}] * 4)[0]


def test_a_style_preset_is_appended_to_the_prompt() -> None:
    request = Request(DEV.endpoint_id, "a harbour", style="Cinematic")
    assert provider_arguments(DEV, request)["prompt"] == f"a harbour, {STYLE_PRESETS['Cinematic']}"
    with pytest.raises(InvalidParameters, match="Unknown style"):
        provider_arguments(DEV, Request(DEV.endpoint_id, "a harbour", style="Vaporwave"))


def test_a_request_round_trips_through_json_for_recall() -> None:
    request = Request(SDXL.endpoint_id, "a fox", "blurry", "Anime", {"seed": 7, "num_images": 2})
    assert Request.from_json(request.to_json()) == request


# --- pricing --------------------------------------------------------------------------------------------


def test_a_standard_one_megapixel_image_costs_one_credit_and_premium_models_more() -> None:
    assert standard_image_credits(DEV) == 1
    assert standard_image_credits(BY_ENDPOINT["fal-ai/flux/schnell"]) == 1
    assert standard_image_credits(ULTRA) == 3
    assert standard_image_credits(BY_ENDPOINT["rundiffusion-fal/juggernaut-flux/pro"]) == 3
    for spec in CATALOGUE:
        assert standard_image_credits(spec) >= 1
        if spec.quality == "premium":
            assert standard_image_credits(spec) > standard_image_credits(DEV)


def test_megapixel_prices_count_whole_megapixels_rounded_up() -> None:
    assert billable_megapixels(1024, 1024) == 1
    assert billable_megapixels(1024, 768) == 1
    assert billable_megapixels(1032, 1024) == 2
    assert billable_megapixels(2048, 2048) == 4
    big = arguments(DEV.endpoint_id, image_size={"width": 2048, "height": 2048}, num_images=2)
    cost = price(DEV, big)
    assert (cost.credits_per_image, cost.images, cost.credits) == (4, 2, 8)
    assert cost.provider_micros == 2 * 4 * DEV.price_micros


def test_per_image_prices_ignore_the_size() -> None:
    cost = price(ULTRA, arguments(ULTRA.endpoint_id, aspect_ratio="21:9", num_images=3))
    assert (cost.credits, cost.provider_micros) == (9, 3 * ULTRA.price_micros)
    assert output_size(ULTRA, {"aspect_ratio": "1:1"}) == (2048, 2048)


def test_an_admin_credit_cost_overrides_the_derived_one() -> None:
    from dataclasses import replace

    cheaper = replace(ULTRA, credit_cost=2)
    assert price(cheaper, arguments(ULTRA.endpoint_id, num_images=2)).credits == 4


def test_every_kind_of_parameter_is_used_by_some_model() -> None:
    kinds = {param.kind for spec in CATALOGUE for param in spec.params}
    assert kinds == set(Kind)
