"""The model catalogue as data: every endpoint the studio can run, the parameters it accepts, its price.

Parameter names, types, ranges and defaults follow fal's model cards and the @fal-ai/client endpoint types
(../shared/reference/fal-api.md §2). Where fal publishes no range, the range here is the one the studio
enforces, chosen from the family's published cards; those are marked "studio limit". Prices are fal's
published prices in millionths of a dollar; `price_note` says where one is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"  # one of `choices`
    IMAGE_SIZE = "image_size"  # a preset name or {"width", "height"}
    LORAS = "loras"  # [{"path": https URL, "scale": float}]


@dataclass(frozen=True)
class Param:
    """One input of an endpoint, as the provider names and bounds it."""

    name: str
    kind: Kind
    label: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    advanced: bool = False  # shown folded away in the form

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind.value, "label": self.label}
        for key in ("default", "minimum", "maximum", "help"):
            if getattr(self, key) not in (None, ""):
                data[key] = getattr(self, key)
        if self.choices:
            data["choices"] = list(self.choices)
        if self.advanced:
            data["advanced"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Param:
        return cls(
            name=data["name"],
            kind=Kind(data["kind"]),
            label=data["label"],
            default=data.get("default"),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            choices=tuple(data.get("choices", ())),
            help=data.get("help", ""),
            advanced=bool(data.get("advanced", False)),
        )


# fal's image_size presets (fal toolkit IMAGE_SIZE_PRESETS).
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
IMAGE_SIZE_LABELS = {
    "square_hd": "Square HD · 1024×1024",
    "square": "Square · 512×512",
    "portrait_4_3": "Portrait 3:4 · 768×1024",
    "portrait_16_9": "Portrait 9:16 · 576×1024",
    "landscape_4_3": "Landscape 4:3 · 1024×768",
    "landscape_16_9": "Landscape 16:9 · 1024×576",
}
CUSTOM_SIZE_RANGE = (256, 2048)  # studio limit per side for custom sizes; multiples of 8

# Output sizes of flux-pro ultra per aspect ratio (about 4 MP, as BFL documents for ultra).
ASPECT_RATIO_SIZES: dict[str, tuple[int, int]] = {
    "21:9": (3136, 1344),
    "16:9": (2752, 1536),
    "4:3": (2368, 1792),
    "3:2": (2496, 1664),
    "1:1": (2048, 2048),
    "2:3": (1664, 2496),
    "3:4": (1792, 2368),
    "9:16": (1536, 2752),
    "9:21": (1344, 3136),
}

PROMPT_MAX_CHARS = 2000
NEGATIVE_PROMPT_MAX_CHARS = 1000
SEED_MAX = 2**32 - 1
MAX_LORAS = 3


def _image_size(default: str = "landscape_4_3") -> Param:
    return Param("image_size", Kind.IMAGE_SIZE, "Size", default=default, choices=tuple(IMAGE_SIZES))


def _num_images() -> Param:
    return Param("num_images", Kind.INT, "Images", default=1, minimum=1, maximum=4)


def _seed() -> Param:
    return Param(
        "seed",
        Kind.INT,
        "Seed",
        minimum=0,
        maximum=SEED_MAX,
        help="The same seed and settings repeat an image",
    )


def _steps(default: int, maximum: int) -> Param:
    return Param(
        "num_inference_steps", Kind.INT, "Steps", default=default, minimum=1, maximum=maximum, advanced=True
    )


def _guidance(default: float, minimum: float, maximum: float) -> Param:
    return Param(
        "guidance_scale",
        Kind.FLOAT,
        "Guidance",
        default=default,
        minimum=minimum,
        maximum=maximum,
        help="How closely the image follows the prompt",
        advanced=True,
    )


def _output_format(name: str = "output_format") -> Param:
    return Param(name, Kind.CHOICE, "File format", default="jpeg", choices=("jpeg", "png"), advanced=True)


def _acceleration() -> Param:
    return Param(
        "acceleration", Kind.CHOICE, "Acceleration", default="none", choices=("none", "regular", "high"),
        advanced=True,
    )  # fmt: skip


def _safety_checker() -> Param:
    return Param("enable_safety_checker", Kind.BOOL, "Safety checker", default=True, advanced=True)


def _safety_tolerance() -> Param:
    return Param(
        "safety_tolerance",
        Kind.CHOICE,
        "Safety tolerance",
        default="2",
        choices=("1", "2", "3", "4", "5", "6"),
        help="1 is the strictest",
        advanced=True,
    )


def _enhance_prompt() -> Param:
    return Param("enhance_prompt", Kind.BOOL, "Enhance prompt", default=False, advanced=True)


def _share(name: str, label: str, default: float, help: str = "") -> Param:
    """A weight between 0 and 1, folded away."""
    return Param(name, Kind.FLOAT, label, default=default, minimum=0.0, maximum=1.0, help=help, advanced=True)


def _loras() -> Param:
    return Param(
        "loras",
        Kind.LORAS,
        "LoRA",
        default=[],
        minimum=0.0,
        maximum=4.0,  # the scale range (studio limit)
        help="An https URL of a .safetensors file, and its scale",
    )


@dataclass(frozen=True)
class ModelSpec:
    """One endpoint: what it is, what it accepts, what it costs."""

    endpoint_id: str
    name: str
    description: str
    category: str
    capabilities: tuple[str, ...]
    speed: str  # fast, medium, slow
    quality: str  # draft, standard, high, premium
    expected_seconds: float  # a typical run, for progress estimates
    price_micros: int  # provider price in millionths of a dollar per `price_unit`
    price_unit: str  # "megapixel" or "image"
    params: tuple[Param, ...]
    negative_prompt: bool = False
    price_note: str = ""
    sort_order: int = 0
    featured: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)  # sent with every request, never shown
    credit_cost: int | None = None  # credits per standard image, when the catalogue row sets it
    operation: str = "text_to_image"  # the Operation this endpoint runs (studio.domain.generation)
    inputs: tuple[str, ...] = ()  # its image inputs, e.g. ("image_url", "mask_url"): set by the studio
    prompt: str = "required"  # "required", "optional" (may be empty) or "none" (not sent)
    size_rule: str = "params"  # how the output size follows: "params", "input", "scaled", "canvas"
    outputs: tuple[str, ...] = ("images", "image")  # result keys holding the outputs; the first present

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def schema_json(self) -> dict[str, Any]:
        """What the models table keeps of this spec besides its own columns."""
        return {
            "params": [param.to_json() for param in self.params],
            "negative_prompt": self.negative_prompt,
            "expected_seconds": self.expected_seconds,
            "fixed": dict(self.fixed),
            "price_note": self.price_note,
            "operation": self.operation,
            "inputs": list(self.inputs),
            "prompt": self.prompt,
            "size_rule": self.size_rule,
            "outputs": list(self.outputs),
        }

    @property
    def reads_weights(self) -> bool:
        """Reads (word:1.2) as a weight; other models get the words without it."""
        return "prompt_weights" in self.capabilities

    @property
    def takes_image(self) -> bool:
        return "image_url" in self.inputs

    @property
    def generates(self) -> bool:
        """Offered on the Generate page: makes new images from a prompt (with an input image or not)."""
        return self.operation in ("text_to_image", "image_to_image")


_FLUX_T2I = ("text_to_image", "seed", "image_size", "batch")

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        endpoint_id="rundiffusion-fal/rundiffusion-photo-flux",
        name="RunDiffusion Photo Flux",
        description="Flux dev with RunDiffusion's photography LoRA: natural skin, light and lenses.",
        category="photo",
        capabilities=(*_FLUX_T2I, "lora"),
        speed="medium",
        quality="high",
        expected_seconds=6.0,
        price_micros=45_000,
        price_unit="megapixel",
        price_note="third-party price table",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(28, 50),
            _guidance(3.5, 0.0, 35.0),
            Param(
                "photo_lora_scale",
                Kind.FLOAT,
                "Photo LoRA strength",
                default=0.75,
                minimum=0.0,
                maximum=2.0,  # studio limit
                advanced=True,
            ),
            _loras(),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=10,
        featured=True,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux-pro/v1.1-ultra",
        name="FLUX1.1 [pro] ultra",
        description="Black Forest Labs' top model: up to 4 MP, photoreal, with a raw mode.",
        category="premium",
        capabilities=("text_to_image", "seed", "aspect_ratio", "batch", "raw"),
        speed="slow",
        quality="premium",
        expected_seconds=10.0,
        price_micros=60_000,
        price_unit="image",
        params=(
            Param(
                "aspect_ratio",
                Kind.CHOICE,
                "Aspect ratio",
                default="16:9",
                choices=tuple(ASPECT_RATIO_SIZES),
            ),
            _num_images(),
            _seed(),
            Param("raw", Kind.BOOL, "Raw", default=False, help="Less processed, more natural-looking"),
            _enhance_prompt(),
            _safety_tolerance(),
            _output_format(),
        ),
        sort_order=20,
        featured=True,
    ),
    ModelSpec(
        endpoint_id="rundiffusion-fal/juggernaut-flux/pro",
        name="Juggernaut Flux Pro",
        description="RunDiffusion's Juggernaut on Flux: detailed, cinematic realism.",
        category="photo",
        capabilities=_FLUX_T2I,
        speed="medium",
        quality="high",
        expected_seconds=7.0,
        price_micros=55_000,
        price_unit="megapixel",
        price_note="third-party price table",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(28, 50),
            _guidance(3.5, 1.0, 20.0),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=30,
        featured=True,
    ),
    ModelSpec(
        endpoint_id="rundiffusion-fal/juggernaut-flux/lightning",
        name="Juggernaut Flux Lightning",
        description="Juggernaut in a few steps: about five times the speed of Flux, for drafts.",
        category="fast",
        capabilities=_FLUX_T2I,
        speed="fast",
        quality="standard",
        expected_seconds=2.0,
        price_micros=6_000,
        price_unit="megapixel",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(4, 12),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=40,
        featured=True,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux/dev",
        name="FLUX.1 [dev]",
        description="The open Flux model: strong prompt following, the standard the credit is based on.",
        category="general",
        capabilities=_FLUX_T2I,
        speed="medium",
        quality="high",
        expected_seconds=5.0,
        price_micros=25_000,
        price_unit="megapixel",
        price_note="third-party price table",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(28, 50),
            _guidance(3.5, 1.0, 20.0),
            _acceleration(),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=50,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux/schnell",
        name="FLUX.1 [schnell]",
        description="Flux in 1–4 steps: the fastest way to explore an idea.",
        category="fast",
        capabilities=_FLUX_T2I,
        speed="fast",
        quality="draft",
        expected_seconds=1.5,
        price_micros=3_000,
        price_unit="megapixel",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(4, 12),
            _guidance(3.5, 1.0, 20.0),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=60,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux-pro/v1.1",
        name="FLUX1.1 [pro]",
        description="Black Forest Labs' fast pro model: excellent quality and prompt adherence.",
        category="premium",
        capabilities=_FLUX_T2I,
        speed="medium",
        quality="premium",
        expected_seconds=5.0,
        price_micros=40_000,
        price_unit="megapixel",
        price_note="sources disagree ($0.04/image or $0.055/MP)",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _enhance_prompt(),
            _safety_tolerance(),
            _output_format(),
        ),
        sort_order=70,
    ),
    ModelSpec(
        endpoint_id="fal-ai/fast-sdxl",
        name="Fast SDXL",
        description="Stable Diffusion XL, fast: negative prompts, LoRAs, a classic look.",
        category="general",
        capabilities=(*_FLUX_T2I, "negative_prompt", "lora", "prompt_weights"),
        speed="fast",
        quality="standard",
        expected_seconds=2.5,
        price_micros=2_500,
        price_unit="image",
        price_note="older fal docs (~$0.0025 per inference)",
        negative_prompt=True,
        params=(
            _image_size("square_hd"),
            _num_images(),
            _seed(),
            _steps(25, 50),
            _guidance(7.5, 0.0, 20.0),
            _loras(),
            Param("expand_prompt", Kind.BOOL, "Expand prompt", default=False, advanced=True),
            _safety_checker(),
            _output_format("format"),
        ),
        sort_order=80,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux-lora",
        name="FLUX.1 [dev] with LoRA",
        description="Flux dev with your own LoRA weights: a style, a character, a product.",
        category="custom",
        capabilities=(*_FLUX_T2I, "lora"),
        speed="medium",
        quality="high",
        expected_seconds=6.0,
        price_micros=35_000,
        price_unit="megapixel",
        price_note="third-party price",
        params=(
            _image_size(),
            _num_images(),
            _seed(),
            _steps(28, 50),
            _guidance(3.5, 1.0, 20.0),
            _loras(),
            _safety_checker(),
            _output_format(),
        ),
        sort_order=90,
    ),
    ModelSpec(
        endpoint_id="fal-ai/aura-flow",
        name="AuraFlow",
        description="An open flow model with prompt expansion; 1024×1024 output.",
        category="general",
        capabilities=("text_to_image", "seed", "batch"),
        speed="medium",
        quality="standard",
        expected_seconds=8.0,
        price_micros=25_000,
        price_unit="image",
        price_note="estimate: fal bills AuraFlow by GPU time and publishes no per-image price",
        params=(
            _num_images(),
            _seed(),
            _steps(50, 50),
            _guidance(3.5, 0.0, 20.0),
            Param("expand_prompt", Kind.BOOL, "Expand prompt", default=True, advanced=True),
        ),
        sort_order=100,
    ),
    ModelSpec(
        endpoint_id="fal-ai/lora",
        name="Stable Diffusion XL",
        description="Stability AI's SDXL base 1.0: negative prompts, LoRAs, the classic open model.",
        category="general",
        capabilities=(*_FLUX_T2I, "negative_prompt", "lora", "prompt_weights"),
        speed="medium",
        quality="standard",
        expected_seconds=6.0,
        price_micros=5_000,
        price_unit="image",
        price_note="estimate: fal bills fal-ai/lora by GPU time and publishes no per-image price",
        negative_prompt=True,
        params=(
            _image_size("square_hd"),
            _num_images(),
            _seed(),
            _steps(30, 50),
            _guidance(7.5, 0.0, 20.0),
            _loras(),
            _safety_checker(),
            Param(
                "image_format",
                Kind.CHOICE,
                "File format",
                default="png",
                choices=("png", "jpeg"),
                advanced=True,
            ),
        ),
        fixed={"model_name": "stabilityai/stable-diffusion-xl-base-1.0"},
        sort_order=85,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux/dev/image-to-image",
        name="FLUX.1 [dev] image-to-image",
        description="Redraws an image you give it after your prompt; strength says how far it may move.",
        category="edit",
        capabilities=("image_to_image", "seed", "batch"),
        speed="medium",
        quality="high",
        expected_seconds=6.0,
        price_micros=25_000,
        price_unit="megapixel",
        price_note="estimate: fal publishes none for image-to-image; FLUX.1 [dev]'s text-to-image price",
        params=(
            Param(
                "strength",
                Kind.FLOAT,
                "Strength",
                default=0.95,
                minimum=0.01,
                maximum=1.0,
                help="How far the result may move from the input image: low keeps it, 1 redraws it",
            ),
            _num_images(),
            _seed(),
            _steps(40, 50),
            _guidance(3.5, 1.0, 20.0),
            _acceleration(),
            _safety_checker(),
            _output_format(),
        ),
        operation="image_to_image",
        inputs=("image_url",),
        size_rule="input",
        sort_order=110,
    ),
    ModelSpec(
        endpoint_id="fal-ai/face-to-sticker",
        name="Face to sticker",
        description="Turns a face photo into a die-cut sticker on a transparent background.",
        category="edit",
        capabilities=("image_to_image", "seed", "negative_prompt"),
        speed="medium",
        quality="standard",
        expected_seconds=8.0,
        price_micros=25_000,
        price_unit="image",
        price_note="estimate: fal bills face-to-sticker by GPU time and publishes no per-image price",
        negative_prompt=True,
        params=(
            _image_size("square_hd"),
            _seed(),
            Param(
                "num_inference_steps", Kind.INT, "Steps", default=20, minimum=10, maximum=40, advanced=True
            ),
            _guidance(4.5, 0.0, 20.0),
            Param(
                "instant_id_strength",
                Kind.FLOAT,
                "Likeness",
                default=0.7,
                minimum=0.0,
                maximum=1.0,
                advanced=True,
            ),
            Param(
                "ip_adapter_weight",
                Kind.FLOAT,
                "Style weight",
                default=0.2,
                minimum=0.0,
                maximum=1.0,
                advanced=True,
            ),
            Param(
                "ip_adapter_noise",
                Kind.FLOAT,
                "Style noise",
                default=0.5,
                minimum=0.0,
                maximum=1.0,
                advanced=True,
            ),
            Param("upscale", Kind.BOOL, "Upscale 2×", default=False, advanced=True),
            _safety_checker(),
        ),
        operation="image_to_image",
        inputs=("image_url",),
        outputs=("sticker_image_background_removed", "sticker_image", "images"),
        sort_order=120,
    ),
    ModelSpec(
        endpoint_id="fal-ai/flux-pro/v1/fill",
        name="FLUX.1 Fill [pro]",
        description="Inpainting: repaints the part of an image you mask, after your prompt.",
        category="tool",
        capabilities=("inpaint", "seed", "batch"),
        speed="medium",
        quality="premium",
        expected_seconds=8.0,
        price_micros=50_000,
        price_unit="megapixel",
        params=(_num_images(), _seed(), _enhance_prompt(), _safety_tolerance(), _output_format()),
        operation="inpaint",
        inputs=("image_url", "mask_url"),
        size_rule="input",
        sort_order=200,
    ),
    ModelSpec(
        endpoint_id="fal-ai/bria/expand",
        name="Bria Expand",
        description="Outpainting: extends an image beyond its borders, to a bigger canvas or another ratio.",
        category="tool",
        capabilities=("outpaint", "seed"),
        speed="medium",
        quality="high",
        expected_seconds=8.0,
        price_micros=40_000,
        price_unit="image",
        params=(_seed(),),
        operation="outpaint",
        inputs=("image_url",),
        prompt="optional",
        size_rule="canvas",
        sort_order=210,
    ),
    ModelSpec(
        endpoint_id="fal-ai/clarity-upscaler",
        name="Clarity Upscaler",
        description="Upscales 2× or 4× and adds real detail (the factor goes up to 4).",
        category="tool",
        capabilities=("upscale", "seed"),
        speed="slow",
        quality="high",
        expected_seconds=15.0,
        price_micros=30_000,
        price_unit="megapixel",
        params=(
            Param("upscale_factor", Kind.FLOAT, "Factor", default=2.0, minimum=1.0, maximum=4.0),
            Param(
                "creativity",
                Kind.FLOAT,
                "Creativity",
                default=0.35,
                minimum=0.0,
                maximum=1.0,
                help="How much new detail it may invent",
                advanced=True,
            ),
            Param(
                "resemblance",
                Kind.FLOAT,
                "Resemblance",
                default=0.6,
                minimum=0.0,
                maximum=1.0,
                help="How closely it keeps to the original",
                advanced=True,
            ),
            _guidance(4.0, 0.0, 20.0),
            _steps(18, 50),
            _seed(),
            _safety_checker(),
        ),
        fixed={
            "prompt": "masterpiece, best quality, highres",
            "negative_prompt": "(worst quality, low quality, normal quality:2)",
        },
        operation="upscale",
        inputs=("image_url",),
        prompt="none",
        size_rule="scaled",
        sort_order=220,
    ),
    ModelSpec(
        endpoint_id="fal-ai/birefnet/v2",
        name="BiRefNet background removal",
        description="Cuts the subject out onto transparency and keeps the mask it used.",
        category="tool",
        capabilities=("remove_background",),
        speed="fast",
        quality="high",
        expected_seconds=3.0,
        price_micros=10_000,
        price_unit="image",
        price_note="estimate: fal bills BiRefNet by GPU time and publishes no per-image price",
        params=(
            Param(
                "model",
                Kind.CHOICE,
                "Model",
                default="General Use (Light)",
                choices=(
                    "General Use (Light)",
                    "General Use (Light 2K)",
                    "General Use (Heavy)",
                    "Matting",
                    "Portrait",
                ),
                advanced=True,
            ),
            Param(
                "operating_resolution",
                Kind.CHOICE,
                "Working resolution",
                default="1024x1024",
                choices=("1024x1024", "2048x2048"),
                advanced=True,
            ),
            Param("refine_foreground", Kind.BOOL, "Refine edges", default=True, advanced=True),
        ),
        fixed={"output_format": "png", "output_mask": True},
        operation="remove_background",
        inputs=("image_url",),
        prompt="none",
        size_rule="input",
        sort_order=230,
    ),
)

BY_ENDPOINT = {spec.endpoint_id: spec for spec in CATALOGUE}

# Style presets: suffixes appended to the prompt (the job stores both the prompt and the style).
STYLE_PRESETS: dict[str, str] = {
    "None": "",
    "Photographic": "professional photograph, natural light, 50mm lens, sharp focus, high detail",
    "Cinematic": "cinematic still, dramatic lighting, shallow depth of field, film grain, anamorphic",
    "Illustration": "digital illustration, clean lines, vibrant colours, detailed",
    "Anime": "anime style, cel shading, expressive, studio quality",
    "Watercolour": "watercolour painting, soft washes, paper texture, delicate",
    "3D render": "3d render, octane, global illumination, physically based materials",
    "Line art": "black and white line art, ink, clean outlines, minimal shading",
    "Fantasy art": "epic fantasy art, painterly, rich detail, dramatic atmosphere",
}
