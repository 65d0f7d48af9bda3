"""The Edit page's tools: inpaint over a drawn mask, outpaint to a bigger canvas, image-to-image."""

from __future__ import annotations

import base64
import binascii
import uuid

import streamlit as st

from studio.domain.catalogue import PROMPT_MAX_CHARS
from studio.domain.credits import Price
from studio.domain.generation import Operation
from studio.domain.iteration import MAX_EXTEND, OUTPAINT_RATIOS, extend, to_ratio
from studio.services.generation.iterate import Source, Step
from studio.ui.generation import iterate_actions
from studio.ui.generation.mask_canvas import mask_canvas


def _cost(account_id: uuid.UUID, step: Step) -> bool:
    cost = iterate_actions.price_of(account_id, step)
    if isinstance(cost, Price):
        st.caption(f"Costs {iterate_actions.credits(cost.credits)}.")
        return True
    st.caption(f":material/block: {cost}")
    return False


def _mask_bytes(value: str | None) -> bytes | None:
    if not value or "," not in value:
        return None
    try:
        return base64.b64decode(value.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None


def inpaint(account_id: uuid.UUID, source: Source) -> None:
    st.caption(
        "Paint over what should change (white = repaint), then say what goes there. "
        "FLUX.1 Fill [pro] repaints only the masked part."
    )
    mask = _mask_bytes(mask_canvas(source.url, source.width, source.height, key=f"edit.mask.{source.id}"))
    prompt = st.text_input(
        "What goes in the masked part", key=f"edit.inpaint.prompt.{source.id}", max_chars=PROMPT_MAX_CHARS,
        placeholder="a red kite in the sky",
    )  # fmt: skip
    count = (
        st.segmented_control("Images", [1, 2, 3, 4], default=1, key=f"edit.inpaint.count.{source.id}") or 1
    )
    if mask is None:
        st.caption("Draw a mask first.")
        return
    step = Step(
        Operation.INPAINT, source.id, prompt=prompt or "", mask_png=mask, params={"num_images": count}
    )
    can = _cost(account_id, step)
    if st.button("Inpaint", type="primary", icon=":material/brush:", key="edit.inpaint.go", disabled=not can):
        iterate_actions.start(account_id, step, "Inpaint started")


def outpaint(account_id: uuid.UUID, source: Source) -> None:
    st.caption("Extend the picture beyond its borders; Bria Expand fills the new canvas.")
    mode = st.segmented_control(
        "How",
        ["Extend sides", "To an aspect ratio"],
        default="Extend sides",
        key=f"edit.out.mode.{source.id}",
    )
    extend_by: tuple[int, int, int, int] | None = None
    ratio = None
    if mode == "To an aspect ratio":
        ratio = st.selectbox("Aspect ratio", OUTPAINT_RATIOS, index=5, key=f"edit.out.ratio.{source.id}")
    else:
        cols = st.columns(4)
        sides = [
            col.number_input(
                name, 0, MAX_EXTEND, 256 if name == "Right" else 0, 64, key=f"edit.out.{name}.{source.id}"
            )
            for col, name in zip(cols, ("Left", "Right", "Up", "Down"), strict=True)
        ]
        extend_by = (int(sides[0]), int(sides[1]), int(sides[2]), int(sides[3]))
    try:
        canvas = (
            to_ratio(source.width, source.height, ratio)
            if ratio
            else extend(source.width, source.height, *(extend_by or (0, 0, 0, 0)))
        )
    except ValueError as err:
        st.caption(f":material/block: {err}")
        return
    st.caption(f"{source.width}×{source.height} → {canvas.width}×{canvas.height}")
    prompt = st.text_input(
        "What the new parts show (optional)", key=f"edit.out.prompt.{source.id}", max_chars=PROMPT_MAX_CHARS
    )
    step = Step(Operation.OUTPAINT, source.id, prompt=prompt or "", extend_by=extend_by, ratio=ratio)
    can = _cost(account_id, step)
    if st.button(
        "Outpaint", type="primary", icon=":material/open_in_full:", key="edit.out.go", disabled=not can
    ):
        iterate_actions.start(account_id, step, "Outpaint started")


def image_to_image(account_id: uuid.UUID, source: Source) -> None:
    st.caption("Redraw the picture after a prompt with FLUX.1 [dev] image-to-image.")
    prompt = st.text_area(
        "Prompt",
        value=source.prompt,
        key=f"edit.i2i.prompt.{source.id}",
        max_chars=PROMPT_MAX_CHARS,
        height=90,
    )
    strength = st.slider(
        "Strength", 0.05, 1.0, 0.65, 0.05, key=f"edit.i2i.strength.{source.id}",
        help="How far the result may move from the picture: low keeps it, 1 redraws it",
    )  # fmt: skip
    count = st.segmented_control("Images", [1, 2, 3, 4], default=1, key=f"edit.i2i.count.{source.id}") or 1
    step = Step(
        Operation.IMAGE_TO_IMAGE,
        source.id,
        prompt=prompt or "",
        strength=strength,
        params={"num_images": count},
    )
    can = _cost(account_id, step)
    if st.button(
        "Redraw", type="primary", icon=":material/auto_awesome:", key="edit.i2i.go", disabled=not can
    ):
        iterate_actions.start(account_id, step, "Image to image started")
