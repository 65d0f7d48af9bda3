"""Two images of one picture, before and after (an upscale, an edit), compared under a sliding divider.

One Streamlit custom component (components v2, inline: no iframe, no build step, no library). The box has
the after image's natural aspect ratio; the before image is stretched to the same box, so an upscale lines
up with its source pixel for pixel. The after image is clipped at the divider with `clip-path: inset(...)`:
the before image shows left of it, the after image right of it. The divider follows a pointer (mouse, pen
or touch) dragged anywhere on the images, and the arrow keys through a range input (Shift: 10 % a step).
Where the divider is stays in the browser: nothing is sent to Python, so dragging starts no rerun.
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<div class="compare">
  <div class="stage">
    <img class="before" alt="" draggable="false" decoding="async">
    <img class="after" alt="" draggable="false" decoding="async">
    <input class="position" type="range" min="0" max="100" step="1" value="50">
    <div class="divider" aria-hidden="true"><span class="knob"><svg viewBox="0 0 16 16"><path
      d="M6 4.5 2.5 8 6 11.5 M10 4.5l3.5 3.5-3.5 3.5"/></svg></span></div>
    <span class="label start"></span>
    <span class="label end"></span>
  </div>
</div>
"""

_CSS = """
.compare { font-family: var(--st-font); color: var(--st-text-color); }
.stage {
  position: relative; width: min(100%, calc(75vh * var(--ratio, 1.5))); aspect-ratio: var(--ratio, 1.5);
  overflow: hidden; user-select: none; touch-action: pan-y; cursor: ew-resize;
  border-radius: var(--st-base-radius, 0.5rem); background: var(--st-secondary-background-color);
}
.stage img {
  position: absolute; inset: 0; display: block; width: 100%; height: 100%; object-fit: fill;
  pointer-events: none;
}
.after { clip-path: inset(0 0 0 50%); }
.position {  /* the keyboard's way in: invisible, but focusable and announced */
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0; overflow: hidden;
  clip-path: inset(50%); white-space: nowrap; opacity: 0;
}
.divider {
  position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; margin-left: -1px; background: #fff;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.35); pointer-events: none;
}
.knob {
  position: absolute; top: 50%; left: 50%; width: 2.25rem; height: 2.25rem; transform: translate(-50%, -50%);
  display: grid; place-items: center; box-sizing: border-box; border-radius: 50%;
  background: #fff; color: #1f2330; border: 1px solid rgba(0, 0, 0, 0.2);
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.35);
}
.knob svg { width: 1.125rem; height: 1.125rem; fill: none; stroke: currentColor; stroke-width: 1.75;
  stroke-linecap: round; stroke-linejoin: round; }
.position:focus-visible ~ .divider .knob { outline: 3px solid var(--st-primary-color); outline-offset: 2px; }
.label {
  position: absolute; top: 0.625rem; max-width: calc(50% - 1.5rem); padding: 0.25rem 0.5rem;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; pointer-events: none;
  font-size: 0.8125rem; line-height: 1.3; color: #fff; background: rgba(17, 19, 26, 0.68);
  border-radius: calc(var(--st-base-radius, 0.5rem) * 0.75);
}
.label:empty { display: none; }
.start { left: 0.625rem; }
.end { right: 0.625rem; }
"""

_JS = """
const made = new WeakMap()

function move(s, percent) {
  const position = Math.min(100, Math.max(0, percent))
  s.position = position
  s.after.style.clipPath = `inset(0 0 0 ${position}%)`
  s.divider.style.left = `${position}%`
  s.range.value = String(Math.round(position))
  const shown = Math.round(position)
  s.range.setAttribute("aria-valuetext", `${shown}% ${s.names[0]}, ${100 - shown}% ${s.names[1]}`)
}

function fit(s) {  // the box takes the after image's natural aspect ratio once it is known
  if (s.after.naturalWidth && s.after.naturalHeight) {
    s.stage.style.setProperty("--ratio", String(s.after.naturalWidth / s.after.naturalHeight))
  }
}

function create(root) {
  const s = {
    stage: root.querySelector(".stage"), before: root.querySelector(".before"),
    after: root.querySelector(".after"), range: root.querySelector(".position"),
    divider: root.querySelector(".divider"), start: root.querySelector(".start"),
    end: root.querySelector(".end"),
    position: 50, drag: null, names: ["", ""],
  }
  const follow = event => {
    const box = s.stage.getBoundingClientRect()
    move(s, (100 * (event.clientX - box.left)) / box.width)
  }
  s.stage.onpointerdown = event => {
    if (s.drag !== null || (event.pointerType === "mouse" && event.button !== 0)) return
    event.preventDefault()
    s.drag = event.pointerId
    try { s.stage.setPointerCapture(event.pointerId) } catch { /* a pointer already gone: no capture */ }
    s.range.focus({ preventScroll: true })  // the arrow keys go on from where the pointer left it
    follow(event)
  }
  s.stage.onpointermove = event => { if (event.pointerId === s.drag) follow(event) }
  const end = event => { if (event.pointerId === s.drag) s.drag = null }
  s.stage.onpointerup = end
  s.stage.onpointercancel = end
  s.range.oninput = () => move(s, Number(s.range.value))
  s.range.onkeydown = event => {
    const step = { ArrowLeft: -10, ArrowDown: -10, ArrowRight: 10, ArrowUp: 10 }[event.key]
    if (event.shiftKey && step) { event.preventDefault(); move(s, s.position + step) }
  }
  s.after.onload = () => fit(s)
  return s
}

export default function ({ data, parentElement }) {
  const root = parentElement.querySelector(".compare")
  const s = made.get(root) || create(root)
  made.set(root, s)
  if (s.before.getAttribute("src") !== data.before) s.before.src = data.before
  if (s.after.getAttribute("src") !== data.after) s.after.src = data.after
  fit(s)
  s.start.textContent = data.before_label
  s.end.textContent = data.after_label
  s.names = [data.before_label || "before", data.after_label || "after"]
  s.range.setAttribute("aria-label", `Compare ${s.names[0]} and ${s.names[1]}`)
  move(s, s.position)
}
"""

_COMPARE = st.components.v2.component("studio_compare_slider", html=_HTML, css=_CSS, js=_JS)


def before_after(
    before_url: str, after_url: str, *, key: str, before_label: str = "Before", after_label: str = "After"
) -> None:
    """The before and after images (URL strings) in one box, the before left of a divider the user drags."""
    _COMPARE(
        key=key,
        data={
            "before": before_url,
            "after": after_url,
            "before_label": before_label,
            "after_label": after_label,
        },
    )
