"""The parameter panel of the Generate form, built from a model's schema (`ModelSpec.params`).

Widgets are keyed by model (`gen.<endpoint>.<param>`), so switching models never carries one model's
value into another. Defaults go into session_state before a widget is made (never through `value=`),
which is what lets "recall" put a past request back: it sets the same keys before the widgets exist.
"""

from __future__ import annotations

import secrets
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from studio.domain.catalogue import (
    CUSTOM_SIZE_RANGE,
    IMAGE_SIZE_LABELS,
    IMAGE_SIZES,
    SEED_MAX,
    STYLE_PRESETS,
    Kind,
    ModelSpec,
    Param,
)
from studio.domain.parameters import Request

STYLE = "gen.style"
CUSTOM = "custom"
_OWN_ROW = (Kind.IMAGE_SIZE, Kind.LORAS)  # with the seed, these take a whole row each


def key(spec: ModelSpec, name: str) -> str:
    return f"gen.{spec.endpoint_id}.{name}"


def default(name: str, value: Any) -> str:
    """Give the widget keyed `name` its first value; returns the key, for `key=`."""
    st.session_state.setdefault(name, value)
    return name


def panel(spec: ModelSpec, *, with_seed: bool = True) -> tuple[str, dict[str, Any]]:
    """The style and every parameter `spec` takes (the seed only while it is locked, and never without
    `with_seed`: a batch's rows have seeds of their own); advanced ones folded."""
    params: dict[str, Any] = {}
    basic = [param for param in spec.params if not param.advanced]
    for param in basic:
        if param.kind is Kind.IMAGE_SIZE:
            params[param.name] = _size_input(spec, param)
    compact = [param for param in basic if param.kind not in _OWN_ROW and param.name != "seed"]
    cells = _grid(len(compact) + 1)
    with cells[0]:
        style = st.selectbox(
            "Style", list(STYLE_PRESETS), key=default(STYLE, "None"),
            help="Words added to the end of the prompt, for a look",
        )  # fmt: skip
    for cell, param in zip(cells[1:], compact, strict=True):
        with cell:
            params[param.name] = _input(spec, param)
    for param in basic:
        if param.name == "seed":
            if with_seed:
                params[param.name] = _seed_input(spec, param)
        elif param.kind is Kind.LORAS:
            params[param.name] = _lora_input(spec, param)
    advanced = [param for param in spec.params if param.advanced]
    if advanced:
        with st.expander("Advanced settings", icon=":material/tune:"):
            for cell, param in zip(_grid(len(advanced)), advanced, strict=True):
                with cell:
                    params[param.name] = _input(spec, param)
    return str(style), {name: value for name, value in params.items() if value is not None}


def _grid(count: int) -> list[DeltaGenerator]:
    """Cells two to a row, in reading order."""
    cells: list[DeltaGenerator] = []
    for _ in range(0, count, 2):
        cells.extend(st.columns(2, vertical_alignment="bottom"))
    return cells[:count]


def _input(spec: ModelSpec, param: Param) -> Any:
    """One widget for a plain parameter: a select, a toggle or a slider within the parameter's range."""
    name = key(spec, param.name)
    tip = param.help or None
    if param.kind is Kind.CHOICE:
        default(name, param.default if param.default in param.choices else param.choices[0])
        return st.selectbox(param.label, param.choices, key=name, help=tip)
    if param.kind is Kind.BOOL:
        return st.toggle(param.label, key=default(name, bool(param.default)), help=tip)
    low = param.minimum if param.minimum is not None else 0
    high = param.maximum if param.maximum is not None else low + 100
    if param.kind is Kind.INT:
        default(name, int(param.default if param.default is not None else low))
        return st.slider(param.label, int(low), int(high), step=1, key=name, help=tip)
    default(name, float(param.default if param.default is not None else low))
    step = 0.05 if high - low <= 5 else 0.1
    return st.slider(param.label, float(low), float(high), step=step, key=name, help=tip)


def _size_input(spec: ModelSpec, param: Param) -> str | dict[str, int]:
    low, high = CUSTOM_SIZE_RANGE
    tip = f"Used when the size is Custom size: {low}–{high} pixels, in steps of 8"
    choose, across, down = st.columns([2, 1, 1], vertical_alignment="bottom")
    size = choose.selectbox(
        param.label, [*IMAGE_SIZES, CUSTOM], key=default(key(spec, param.name), param.default),
        format_func=lambda name: IMAGE_SIZE_LABELS.get(name, "Custom size"),
    )  # fmt: skip
    width = across.number_input(
        "Custom width", low, high, step=8, key=default(key(spec, "width"), 1024), help=tip
    )
    height = down.number_input(
        "Custom height", low, high, step=8, key=default(key(spec, "height"), 1024), help=tip
    )
    return {"width": int(width or 0), "height": int(height or 0)} if size == CUSTOM else str(size)


def _seed_input(spec: ModelSpec, param: Param) -> int | None:
    number, lock = st.columns([3, 2], vertical_alignment="bottom")
    seed = number.number_input(
        param.label, 0, SEED_MAX, step=1, key=default(key(spec, "seed"), secrets.randbelow(SEED_MAX)),
        help="Used while the seed is locked. " + param.help,
    )  # fmt: skip
    locked = lock.toggle(
        "Lock seed", key=default(key(spec, "seed_locked"), False),
        help="Unlocked, every run picks a new random seed (each image keeps the one it used)",
    )  # fmt: skip
    return int(seed or 0) if locked else None


def _lora_input(spec: ModelSpec, param: Param) -> list[dict[str, Any]] | None:
    address, strength = st.columns([3, 1], vertical_alignment="bottom")
    url = address.text_input(
        "LoRA weights URL", key=default(key(spec, "lora_url"), ""), help=param.help or None,
        placeholder="https://…/weights.safetensors",
    )  # fmt: skip
    scale = strength.number_input(
        "LoRA scale", param.minimum, param.maximum, step=0.05, key=default(key(spec, "lora_scale"), 1.0)
    )
    url = (url or "").strip()
    return [{"path": url, "scale": float(scale or 0)}] if url else None


def restore(spec: ModelSpec, request: Request) -> None:
    """Set every parameter widget of `spec` to `request` (a recalled job), before the widgets are made."""
    state = st.session_state
    state[STYLE] = request.style if request.style in STYLE_PRESETS else "None"
    for param in spec.params:
        value = request.params.get(param.name)
        if param.name == "seed":
            state[key(spec, "seed_locked")] = value is not None
            if value is not None:
                state[key(spec, "seed")] = int(value)
        elif param.kind is Kind.IMAGE_SIZE and isinstance(value, dict):
            state[key(spec, param.name)] = CUSTOM
            state[key(spec, "width")] = int(value["width"])
            state[key(spec, "height")] = int(value["height"])
        elif param.kind is Kind.LORAS:
            first = value[0] if value else {}
            state[key(spec, "lora_url")] = str(first.get("path", ""))
            state[key(spec, "lora_scale")] = float(first.get("scale", 1.0))
        else:
            state[key(spec, param.name)] = _typed(param, param.default if value is None else value)


def _typed(param: Param, value: Any) -> Any:
    """A stored value as its widget holds it (JSON keeps 7.0 and 7 apart less carefully than widgets)."""
    if param.kind is Kind.INT:
        return int(value)
    if param.kind is Kind.FLOAT:
        return float(value)
    if param.kind is Kind.BOOL:
        return bool(value)
    return str(value) if param.kind is Kind.CHOICE else value
