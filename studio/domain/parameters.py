"""Parameter validation: turn what a person asked for into exactly what one endpoint accepts.

A parameter the model does not take is refused, never sent; a value outside its range gets a message naming
the parameter and the range. Every accepted parameter is sent explicitly, defaults included, so the stored
request replays the same image even if the provider changes a default later.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from studio.domain.catalogue import (
    ASPECT_RATIO_SIZES,
    CUSTOM_SIZE_RANGE,
    IMAGE_SIZES,
    MAX_LORAS,
    NEGATIVE_PROMPT_MAX_CHARS,
    PROMPT_MAX_CHARS,
    STYLE_PRESETS,
    Kind,
    ModelSpec,
    Param,
)
from studio.domain.prompts import without_weights
from studio.errors import InvalidParameters

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$", re.I)


@dataclass(frozen=True)
class Request:
    """What the person asked for: kept with the job so "recall" can put it back in the form."""

    model: str
    prompt: str
    negative_prompt: str = ""
    style: str = "None"
    params: dict[str, Any] = field(default_factory=dict)
    image_id: str = ""  # the image it starts from (a reference, an input or the image edited), if any
    template: str = ""  # the template the prompt was expanded from (studio.domain.templates), if any
    values: dict[str, str] = field(default_factory=dict)  # the template's variables, as filled in
    pick_seed: int | None = None  # the seed of the template's random picks: the same seed, the same prompt

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "style": self.style,
            "params": dict(self.params),
        }
        if self.image_id:
            data["image_id"] = self.image_id
        if self.template:
            data |= {"template": self.template, "values": dict(self.values), "pick_seed": self.pick_seed}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        return cls(
            model=str(data.get("model", "")),
            prompt=str(data.get("prompt", "")),
            negative_prompt=str(data.get("negative_prompt") or ""),
            style=str(data.get("style") or "None"),
            params=dict(data.get("params") or {}),
            image_id=str(data.get("image_id") or ""),
            template=str(data.get("template") or ""),
            values={str(k): str(v) for k, v in (data.get("values") or {}).items()},
            pick_seed=data["pick_seed"] if isinstance(data.get("pick_seed"), int) else None,
        )


def carried_over(request: Request, spec: ModelSpec) -> Request:
    """The same request on another model: the parameters that model takes carry over, the rest (and a
    negative prompt it has no field for) are left behind."""
    accepted = {param.name for param in spec.params}
    return replace(
        request,
        model=spec.endpoint_id,
        negative_prompt=request.negative_prompt if spec.negative_prompt else "",
        params={name: value for name, value in request.params.items() if name in accepted},
    )


def full_prompt(prompt: str, style: str) -> str:
    suffix = STYLE_PRESETS.get(style, "")
    return f"{prompt}, {suffix}" if suffix else prompt


def _text(value: str, label: str, limit: int, problems: list[str], required: bool) -> str:
    text = value.strip()
    if required and not text:
        problems.append(f"{label} is empty: describe the image you want")
    if len(text) > limit:
        problems.append(f"{label} is {len(text)} characters long; the limit is {limit}")
    if _CONTROL.search(text):
        problems.append(f"{label} contains control characters")
    return text


def _plain(number: float | None) -> str:
    """3.5 as 3.5, 20.0 as 20, 4294967295 in full."""
    if number is None:
        return "?"
    return str(int(number)) if float(number).is_integer() else str(number)


def _range_text(param: Param) -> str:
    return f"between {_plain(param.minimum)} and {_plain(param.maximum)}"


def _number(param: Param, value: Any, problems: list[str]) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.append(f"{param.label} ({param.name}) must be a number {_range_text(param)}")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{param.label} ({param.name}) must be a number {_range_text(param)}")
        return None
    if not math.isfinite(number):
        problems.append(f"{param.label} ({param.name}) must be a number {_range_text(param)}")
        return None
    if param.kind is Kind.INT and not number.is_integer():
        problems.append(f"{param.label} ({param.name}) must be a whole number {_range_text(param)}")
        return None
    if (param.minimum is not None and number < param.minimum) or (
        param.maximum is not None and number > param.maximum
    ):
        problems.append(f"{param.label} ({param.name}) must be {_range_text(param)}; got {value}")
        return None
    return int(number) if param.kind is Kind.INT else number


def _image_size(param: Param, value: Any, problems: list[str]) -> str | dict[str, int] | None:
    if isinstance(value, str) and value in IMAGE_SIZES:
        return value
    low, high = CUSTOM_SIZE_RANGE
    message = (
        f"{param.label} ({param.name}) must be one of {', '.join(IMAGE_SIZES)} "
        f"or a width and height between {low} and {high} in steps of 8"
    )
    if not isinstance(value, dict) or set(value) != {"width", "height"}:
        problems.append(message)
        return None
    size = {}
    for side in ("width", "height"):
        number = value[side]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high or number % 8:
            problems.append(f"{message}; got {side} {number}")
            return None
        size[side] = number
    return size


def _loras(param: Param, value: Any, problems: list[str]) -> list[dict[str, Any]] | None:
    if not isinstance(value, list) or len(value) > MAX_LORAS:
        problems.append(f"{param.label} ({param.name}) takes up to {MAX_LORAS} LoRAs")
        return None
    loras: list[dict[str, Any]] = []
    for item in value:
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or not _URL.match(path.strip()) or len(path) > 1000:
            problems.append(
                f"{param.label} ({param.name}) needs an https:// URL of the weights; got {path!r}"
            )
            return None
        scale_param = Param(
            "scale", Kind.FLOAT, f"{param.label} scale", minimum=param.minimum, maximum=param.maximum
        )
        scale = _number(scale_param, item.get("scale", 1.0), problems)
        if scale is None:
            return None
        loras.append({"path": path.strip(), "scale": float(scale)})
    return loras


def _value(param: Param, value: Any, problems: list[str]) -> Any:
    if param.kind in (Kind.INT, Kind.FLOAT):
        return _number(param, value, problems)
    if param.kind is Kind.BOOL:
        if not isinstance(value, bool):
            problems.append(f"{param.label} ({param.name}) must be true or false")
            return None
        return value
    if param.kind is Kind.CHOICE:
        if str(value) not in param.choices:
            problems.append(
                f"{param.label} ({param.name}) must be one of {', '.join(param.choices)}; got {value}"
            )
            return None
        return str(value)
    if param.kind is Kind.IMAGE_SIZE:
        return _image_size(param, value, problems)
    return _loras(param, value, problems)


def provider_arguments(
    spec: ModelSpec, request: Request, studio_fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Exactly the body this endpoint accepts for `request`, or InvalidParameters listing each problem.

    `studio_fields` are the fields the studio itself sets, never a person: the image inputs (references to
    stored files, resolved to URLs when the job is sent) and geometry it computed (an outpaint's canvas)."""
    problems: list[str] = []
    prompt = _text(
        request.prompt, "The prompt", PROMPT_MAX_CHARS, problems, required=spec.prompt == "required"
    )
    if prompt and spec.prompt == "none":
        problems.append(f"{spec.name} does not take a prompt")
    negative = _text(
        request.negative_prompt, "The negative prompt", NEGATIVE_PROMPT_MAX_CHARS, problems, False
    )
    if negative and not spec.negative_prompt:
        problems.append(f"{spec.name} does not take a negative prompt")
    if request.style not in STYLE_PRESETS:
        problems.append(f"Unknown style {request.style!r}; choose one of {', '.join(STYLE_PRESETS)}")
    accepted = {param.name for param in spec.params}
    for name in sorted(set(request.params) - accepted):
        problems.append(f"{spec.name} does not accept the parameter {name!r}")
    arguments: dict[str, Any] = {}
    if spec.prompt != "none":
        sent = prompt if spec.reads_weights else without_weights(prompt)
        arguments["prompt"] = full_prompt(sent, request.style) if prompt else ""
    for name in spec.inputs:
        if not (studio_fields or {}).get(name):
            problems.append(f"{spec.name} needs an input image")
            break
    if spec.negative_prompt:
        arguments["negative_prompt"] = negative
    for param in spec.params:
        value = request.params.get(param.name)
        if value is None:
            if param.default is not None:
                arguments[param.name] = param.default
            continue
        checked = _value(param, value, problems)
        if checked is not None:
            arguments[param.name] = checked
    arguments.update(studio_fields or {})
    arguments.update(spec.fixed)
    if problems:
        raise InvalidParameters(problems)
    return arguments


def output_size(
    spec: ModelSpec, arguments: dict[str, Any], input_size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The size each output image will have (what prices per megapixel are charged on); `input_size` is
    the input image's, for the endpoints whose output follows it."""
    if spec.size_rule == "input" and input_size:
        return input_size
    if spec.size_rule == "scaled" and input_size:
        factor = float(arguments.get("upscale_factor", 1))
        return round(input_size[0] * factor), round(input_size[1] * factor)
    if spec.size_rule == "canvas" and isinstance(arguments.get("canvas_size"), list):
        width, height = arguments["canvas_size"]
        return int(width), int(height)
    size = arguments.get("image_size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str):
        return IMAGE_SIZES[size]
    ratio = arguments.get("aspect_ratio")
    if isinstance(ratio, str) and ratio in ASPECT_RATIO_SIZES:
        return ASPECT_RATIO_SIZES[ratio]
    return 1024, 1024
