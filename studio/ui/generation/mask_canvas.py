"""A mask painted over an image, for inpainting: brush, eraser, rectangle, undo, clear and invert.

One Streamlit custom component (components v2, inline: no iframe, no build step, no library). It gets the
image's **URL string** and natural size; the paint layer is a canvas of exactly that many pixels, scaled
with the image by CSS to fit the column. The mask is kept as one byte per source pixel and painted by the
component itself (a disc swept along each stroke, pixel centres in or out), never by the canvas's
antialiased paths, so it is binary by construction. Undo keeps run-length encoded snapshots: a step costs
a few kilobytes even for a 4k image.

When a stroke ends, and after undo, clear or invert, the component sends the mask as its state value: a
`data:image/png;base64,...` PNG of the source's size, opaque white where painted and opaque black
elsewhere; `None` while nothing is painted. The mask belongs to the `key`: it stays over a new URL of the
same size (a re-signed URL is the same image), and it is painted again from that state when the component
is mounted again (a dialog reopened).
"""

from __future__ import annotations

import base64
import binascii
import struct

import streamlit as st

UNDO_STEPS = 30
_PNG = "data:image/png;base64,"

_HTML = """
<div class="mask-canvas">
  <div class="toolbar" role="toolbar" aria-label="Mask tools">
    <div class="group">
      <button type="button" data-tool="brush" aria-label="Brush" aria-pressed="true"><svg
        viewBox="0 0 16 16" aria-hidden="true"><circle cx="8" cy="8" r="5.5"/><circle cx="8" cy="8" r="2"
        class="fill"/></svg>Brush</button>
      <button type="button" data-tool="eraser" aria-label="Eraser" aria-pressed="false"><svg
        viewBox="0 0 16 16" aria-hidden="true"><path d="M2.5 10.5 8.5 4.5l3 3-6 6h-3z M9.5 13.5h4"/></svg
        >Eraser</button>
      <button type="button" data-tool="rect" aria-label="Rectangle" aria-pressed="false"><svg
        viewBox="0 0 16 16" aria-hidden="true"><rect x="2.5" y="3.5" width="11" height="9" rx="1"/></svg
        >Rectangle</button>
    </div>
    <label class="size"><span>Brush size</span><input type="range" aria-label="Brush size" min="1" max="64"
      value="16"><output>16 px</output></label>
    <div class="group">
      <button type="button" data-action="undo" aria-label="Undo" disabled><svg viewBox="0 0 16 16"
        aria-hidden="true"><path d="M5.5 3.5 2.5 6.5l3 3 M2.5 6.5h7a4 4 0 0 1 0 8h-3"/></svg>Undo</button>
      <button type="button" data-action="clear" aria-label="Clear" disabled><svg viewBox="0 0 16 16"
        aria-hidden="true"><path d="M4 4l8 8 M12 4l-8 8"/></svg>Clear</button>
      <button type="button" data-action="invert" aria-label="Invert"><svg viewBox="0 0 16 16"
        aria-hidden="true"><circle cx="8" cy="8" r="5.5"/><path d="M8 2.5a5.5 5.5 0 0 1 0 11z"
        class="fill"/></svg>Invert</button>
    </div>
    <span class="coverage" role="status">0% masked</span>
  </div>
  <div class="stage">
    <img alt="" draggable="false" decoding="async">
    <canvas role="img" aria-label="Mask: paint over the parts of the image to change"></canvas>
    <div class="marquee"></div>
    <div class="ring"></div>
  </div>
</div>
"""

_CSS = """
.mask-canvas {
  font-family: var(--st-font); color: var(--st-text-color);
  display: flex; flex-direction: column; gap: 0.5rem;
}
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
.group { display: inline-flex; flex-wrap: wrap; gap: 0.25rem; }
button {
  all: unset; box-sizing: border-box; display: inline-flex; align-items: center; gap: 0.375rem;
  cursor: pointer; height: 2.25rem; padding: 0 0.75rem; font-size: 0.875rem; line-height: 1;
  white-space: nowrap;
  border: 1px solid var(--st-border-color); border-radius: var(--st-button-radius, 0.5rem);
  background: var(--st-background-color); color: var(--st-text-color);
}
button:hover:not(:disabled) { border-color: var(--st-primary-color); color: var(--st-primary-color); }
button:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
button[aria-pressed="true"] {
  border-color: var(--st-primary-color); color: var(--st-primary-color);
  background: color-mix(in srgb, var(--st-primary-color) 12%, var(--st-background-color));
}
button:disabled { opacity: 0.4; cursor: default; }
svg { width: 1rem; height: 1rem; flex: none; fill: none; stroke: currentColor; stroke-width: 1.5;
  stroke-linecap: round; stroke-linejoin: round; }
svg .fill { fill: currentColor; stroke: none; }
.size { display: inline-flex; align-items: center; gap: 0.5rem; font-size: 0.875rem; }
.size input { width: 8rem; accent-color: var(--st-primary-color); margin: 0; }
.size output { min-width: 3.5rem; font-variant-numeric: tabular-nums; }
.coverage { margin-left: auto; font-size: 0.875rem; font-variant-numeric: tabular-nums; opacity: 0.8; }
.stage {
  position: relative; width: min(100%, calc(70vh * var(--ratio, 1))); overflow: hidden; user-select: none;
  border-radius: var(--st-base-radius, 0.5rem); background: var(--st-secondary-background-color);
}
.stage img, .stage canvas { position: absolute; inset: 0; display: block; width: 100%; height: 100%; }
.stage img { object-fit: fill; pointer-events: none; }
.stage canvas { opacity: 0.55; image-rendering: pixelated; cursor: crosshair; touch-action: none; }
.ring, .marquee { position: absolute; display: none; pointer-events: none; box-sizing: border-box; }
.ring { min-width: 4px; min-height: 4px; border-radius: 50%; transform: translate(-50%, -50%);
  border: 1.5px solid #fff; box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.65), inset 0 0 0 1px rgba(0, 0, 0, 0.65); }
.marquee { border: 1.5px dashed #fff; outline: 1px solid rgba(0, 0, 0, 0.6); }
"""

# The component's state lives per root element (kept between reruns: Streamlit re-injects the HTML only
# when the HTML itself changes), so a rerun in the middle of a stroke changes nothing on screen.
_JS = """
const UNDO_STEPS = UNDO_STEPS_VALUE
const made = new WeakMap()

function encode(mask) {  // run lengths, alternating, starting with a run of unpainted pixels
  const runs = []
  let value = 0, length = 0
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === value) length++
    else { runs.push(length); value ^= 1; length = 1 }
  }
  runs.push(length)
  return Uint32Array.from(runs)
}

function decode(runs, size) {
  const mask = new Uint8Array(size)
  let at = 0, value = 0
  for (const length of runs) { if (value) mask.fill(1, at, at + length); at += length; value ^= 1 }
  return mask
}

function rgb(colour) {  // any CSS colour as [r, g, b], read back from a 1x1 canvas
  const pixel = document.createElement("canvas").getContext("2d", { willReadFrequently: true })
  pixel.fillStyle = "#6d5dfc"
  pixel.fillStyle = colour || "#6d5dfc"
  pixel.fillRect(0, 0, 1, 1)
  return Array.from(pixel.getImageData(0, 0, 1, 1).data.slice(0, 3))
}

const clamp = (value, low, high) => Math.min(high, Math.max(low, value))

function show(s, x0, y0, x1, y1) {  // the paint layer's pixels in [x0, x1) x [y0, y1), from the mask
  const [r, g, b] = s.colour, pixels = s.layer.data
  for (let y = y0; y < y1; y++) {
    for (let x = x0, i = y * s.w + x0; x < x1; x++, i++) {
      const o = 4 * i
      if (s.mask[i]) { pixels[o] = r; pixels[o + 1] = g; pixels[o + 2] = b; pixels[o + 3] = 255 }
      else pixels[o + 3] = 0
    }
  }
  s.ctx.putImageData(s.layer, 0, 0, x0, y0, x1 - x0, y1 - y0)
}

function sweep(s, a, b, value) {  // a disc of the brush's diameter moved from a to b; true if a pixel changed
  const r = Math.max(s.size / 2, 0.71), r2 = r * r, dx = b.x - a.x, dy = b.y - a.y, span = dx * dx + dy * dy
  const x0 = clamp(Math.floor(Math.min(a.x, b.x) - r), 0, s.w)
  const x1 = clamp(Math.ceil(Math.max(a.x, b.x) + r), 0, s.w)
  const y0 = clamp(Math.floor(Math.min(a.y, b.y) - r), 0, s.h)
  const y1 = clamp(Math.ceil(Math.max(a.y, b.y) + r), 0, s.h)
  let changed = false
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const px = x + 0.5 - a.x, py = y + 0.5 - a.y
      const t = span ? clamp((px * dx + py * dy) / span, 0, 1) : 0
      const ex = px - t * dx, ey = py - t * dy, i = y * s.w + x
      if (ex * ex + ey * ey <= r2 && s.mask[i] !== value) { s.mask[i] = value; changed = true }
    }
  }
  if (changed) show(s, x0, y0, x1, y1)
  return changed
}

function box(s, a, b) {  // the pixels whose centres lie in the rectangle from a to b
  const x0 = clamp(Math.ceil(Math.min(a.x, b.x) - 0.5), 0, s.w)
  const x1 = clamp(Math.floor(Math.max(a.x, b.x) - 0.5) + 1, 0, s.w)
  const y0 = clamp(Math.ceil(Math.min(a.y, b.y) - 0.5), 0, s.h)
  const y1 = clamp(Math.floor(Math.max(a.y, b.y) - 0.5) + 1, 0, s.h)
  let changed = false
  for (let y = y0; y < y1; y++) {
    for (let x = x0, i = y * s.w + x0; x < x1; x++, i++) if (!s.mask[i]) { s.mask[i] = 1; changed = true }
  }
  if (changed) show(s, x0, y0, x1, y1)
  return changed
}

function painted(s) {
  let count = 0
  for (let i = 0; i < s.mask.length; i++) count += s.mask[i]
  return count
}

function png(s) {  // opaque white where painted, opaque black elsewhere, at the source's size
  const out = new ImageData(s.w, s.h), pixels = out.data
  for (let i = 0; i < s.mask.length; i++) {
    const v = s.mask[i] ? 255 : 0, o = 4 * i
    pixels[o] = v; pixels[o + 1] = v; pixels[o + 2] = v; pixels[o + 3] = 255
  }
  const canvas = document.createElement("canvas")
  canvas.width = s.w
  canvas.height = s.h
  canvas.getContext("2d").putImageData(out, 0, 0)
  return canvas.toDataURL("image/png")
}

function status(s, count) {
  const share = (100 * count) / s.mask.length
  let shown = String(Math.round(share))
  if (count > 0 && share < 1) shown = "<1"
  else if (share > 99 && count < s.mask.length) shown = ">99"
  s.coverage.textContent = `${shown}% masked`
  s.buttons.clear.disabled = count === 0
  s.buttons.undo.disabled = s.undo.length === 0
}

function publish(s) {  // the mask to Python as the state value "mask"; null while nothing is painted
  const count = painted(s)
  status(s, count)
  s.send("mask", count ? png(s) : null)
}

function record(s, before) {
  s.undo.push(before)
  if (s.undo.length > UNDO_STEPS) s.undo.shift()
  s.edits++
  publish(s)
}

function restore(s, uri) {  // a mask this key already had (the component mounted again): paint it back
  const edits = s.edits, picture = new Image()
  picture.onload = () => {
    if (s.edits !== edits || picture.naturalWidth !== s.w || picture.naturalHeight !== s.h) return
    const canvas = document.createElement("canvas")
    canvas.width = s.w
    canvas.height = s.h
    const ctx = canvas.getContext("2d", { willReadFrequently: true })
    ctx.drawImage(picture, 0, 0)
    const pixels = ctx.getImageData(0, 0, s.w, s.h).data
    for (let i = 0; i < s.mask.length; i++) s.mask[i] = pixels[4 * i] >= 128 ? 1 : 0
    show(s, 0, 0, s.w, s.h)
    status(s, painted(s))
  }
  picture.src = uri
}

function resize(s, data) {
  s.w = data.width
  s.h = data.height
  s.canvas.width = s.w
  s.canvas.height = s.h
  s.ctx = s.canvas.getContext("2d")
  s.ctx.imageSmoothingEnabled = false
  s.layer = s.ctx.createImageData(s.w, s.h)
  s.mask = new Uint8Array(s.w * s.h)
  s.undo = []
  s.edits++
  s.stage.style.aspectRatio = `${s.w} / ${s.h}`
  s.stage.style.setProperty("--ratio", String(s.w / s.h))
  const largest = Math.max(16, Math.round(Math.max(s.w, s.h) / 4))
  s.range.max = String(largest)
  if (!s.size || s.size > largest) s.size = clamp(Math.round(Math.max(s.w, s.h) / 16), 1, largest)
  if (data.mask) restore(s, data.mask)
  status(s, 0)
}

function at(s, event) {  // CSS pixels on screen to source pixels
  const r = s.canvas.getBoundingClientRect()
  return { x: ((event.clientX - r.left) * s.w) / r.width, y: ((event.clientY - r.top) * s.h) / r.height }
}

function place(element, s, x0, y0, x1, y1) {  // in percent of the stage: no measuring, any scale
  element.style.left = `${(100 * x0) / s.w}%`
  element.style.top = `${(100 * y0) / s.h}%`
  element.style.width = `${(100 * (x1 - x0)) / s.w}%`
  element.style.height = `${(100 * (y1 - y0)) / s.h}%`
}

function ring(s, point) {
  if (!point || s.tool === "rect") { s.ring.style.display = "none"; return }
  s.ring.style.display = "block"
  place(s.ring, s, point.x, point.y, point.x + s.size, point.y + s.size)
}

function create(root) {
  const s = {
    root, stage: root.querySelector(".stage"), image: root.querySelector("img"),
    canvas: root.querySelector("canvas"), ring: root.querySelector(".ring"),
    marquee: root.querySelector(".marquee"), range: root.querySelector("input"),
    output: root.querySelector("output"), coverage: root.querySelector(".coverage"),
    buttons: Object.fromEntries([...root.querySelectorAll("[data-action]")].map(b => [b.dataset.action, b])),
    tools: [...root.querySelectorAll("[data-tool]")], tool: "brush", size: 0, w: 0, h: 0, colour: null,
    mask: new Uint8Array(0), undo: [], stroke: null, edits: 0, send: () => {},
  }
  const paintValue = () => (s.tool === "eraser" ? 0 : 1)
  s.canvas.onpointerdown = event => {
    if (s.stroke || (event.pointerType === "mouse" && event.button !== 0)) return
    event.preventDefault()
    try { s.canvas.setPointerCapture(event.pointerId) } catch { /* a pointer already gone: no capture */ }
    const point = at(s, event)
    s.stroke = { id: event.pointerId, start: point, last: point, before: encode(s.mask), changed: false }
    if (s.tool === "rect") {
      s.marquee.style.display = "block"
      place(s.marquee, s, point.x, point.y, point.x, point.y)
    } else s.stroke.changed = sweep(s, point, point, paintValue())
    ring(s, point)
  }
  s.canvas.onpointermove = event => {
    const stroke = s.stroke
    ring(s, at(s, event))
    if (!stroke || event.pointerId !== stroke.id) return
    const events = (event.getCoalescedEvents && event.getCoalescedEvents()) || []
    for (const each of events.length ? events : [event]) {
      const point = at(s, each)
      if (s.tool !== "rect" && sweep(s, stroke.last, point, paintValue())) stroke.changed = true
      stroke.last = point
    }
    if (s.tool === "rect") {
      const a = stroke.start, b = stroke.last
      place(s.marquee, s, Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y))
    }
  }
  const end = event => {
    const stroke = s.stroke
    if (!stroke || event.pointerId !== stroke.id) return
    s.stroke = null
    if (event.type === "pointerup") stroke.last = at(s, event)
    if (s.tool === "rect") {
      s.marquee.style.display = "none"
      stroke.changed = box(s, stroke.start, stroke.last)
    }
    if (stroke.changed) record(s, stroke.before)
  }
  s.canvas.onpointerup = end
  s.canvas.onpointercancel = end
  s.canvas.onpointerleave = () => { if (!s.stroke) ring(s, null) }
  for (const button of s.tools) {
    button.onclick = () => { s.tool = button.dataset.tool; tools(s); ring(s, null) }
  }
  s.range.oninput = () => { s.size = Number(s.range.value); s.output.textContent = `${s.size} px` }
  const undo = () => {
    if (!s.undo.length) return
    s.mask = decode(s.undo.pop(), s.w * s.h)
    s.edits++
    show(s, 0, 0, s.w, s.h)
    publish(s)
  }
  s.buttons.undo.onclick = undo
  s.buttons.clear.onclick = () => {
    if (!painted(s)) return
    const before = encode(s.mask)
    s.mask.fill(0)
    show(s, 0, 0, s.w, s.h)
    record(s, before)
  }
  s.buttons.invert.onclick = () => {
    const before = encode(s.mask)
    for (let i = 0; i < s.mask.length; i++) s.mask[i] ^= 1
    show(s, 0, 0, s.w, s.h)
    record(s, before)
  }
  root.onkeydown = event => {
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z") {
      event.preventDefault()
      undo()
    }
  }
  return s
}

function tools(s) {
  for (const button of s.tools) button.setAttribute("aria-pressed", String(button.dataset.tool === s.tool))
  s.range.disabled = s.tool === "rect"
}

export default function ({ data, parentElement, setStateValue }) {
  const root = parentElement.querySelector(".mask-canvas")
  const s = made.get(root) || create(root)
  made.set(root, s)
  s.send = setStateValue
  if (s.image.getAttribute("src") !== data.url) s.image.src = data.url
  const host = parentElement.host || root
  const colour = rgb(getComputedStyle(host).getPropertyValue("--st-primary-color").trim())
  const recolour = String(colour) !== String(s.colour)
  s.colour = colour
  if (s.w !== data.width || s.h !== data.height) resize(s, data)
  else if (recolour) show(s, 0, 0, s.w, s.h)
  s.range.value = String(s.size)
  s.output.textContent = `${s.size} px`
  tools(s)
}
""".replace("UNDO_STEPS_VALUE", str(UNDO_STEPS))

_CANVAS = st.components.v2.component("studio_mask_canvas", html=_HTML, css=_CSS, js=_JS)


def png_size(uri: object) -> tuple[int, int] | None:
    """The width and height of a `data:image/png;base64,` URI, read from its header; None if it is not one."""
    if not isinstance(uri, str) or not uri.startswith(_PNG):
        return None
    try:
        head = base64.b64decode(uri[len(_PNG) : len(_PNG) + 32], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def mask_canvas(image_url: str, width: int, height: int, *, key: str) -> str | None:
    """Paint a mask over the image at `image_url`, whose natural size is `width` x `height`.

    Returns the mask as a `data:image/png;base64,` PNG of exactly `width` x `height`, opaque white where
    painted and opaque black elsewhere, as of the last finished stroke, undo, clear or invert; None before
    anything is painted and whenever nothing is (after clear, or everything erased).
    """
    state = st.session_state.get(key)
    kept = state.get("mask") if isinstance(state, dict) else None
    mask = kept if png_size(kept) == (width, height) else None  # a mask of another size is not this one's
    result = _CANVAS(
        key=key,
        data={"url": image_url, "width": width, "height": height, "mask": mask},
        on_mask_change=lambda: None,  # declares "mask" a state value, so the result always has it
    )
    value = result.mask
    return value if isinstance(value, str) and png_size(value) == (width, height) else None
