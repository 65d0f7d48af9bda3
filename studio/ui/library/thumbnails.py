"""A page of thumbnails as one element: tiles that open an image, or tick it while selecting.

Streamlit has no clickable image, so a gallery of `st.image` + `st.button` cards is three or more elements
per image, each with its own React tree, markdown caption and layout pass: at 48 images, what the browser
did on every gallery load (bench/gallery_browser.py: the thumbnails were requested one after another over
~0.5 s while the cards mounted). This is one Streamlit custom component (components v2, inline: no iframe,
no build step, its own shadow root for styles). It gets what `st.image` would: thumbnail **URL strings**
(signed or presigned, cached below their expiry) and text, which it only ever sets as text, never as HTML.
A click reports the tile's id; the Python side decides what a click means.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Literal

import streamlit as st

Layout = Literal["grid", "list"]


@dataclass(frozen=True)
class Tile:
    id: str
    url: str  # the thumbnail's URL, never its bytes
    label: str  # the line under a grid tile, the first line of a list row
    detail: str = ""  # a second, quieter line (list rows)
    title: str = ""  # the tooltip: the whole prompt


_HTML = """
<div class="tiles grid"></div>
"""

_CSS = """
.tiles { font-family: var(--st-font); color: var(--st-text-color); }
.tiles.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 0.5rem; }
.tiles.list { display: flex; flex-direction: column; gap: 0.5rem; }
.tile {
  all: unset; box-sizing: border-box; position: relative; cursor: pointer; min-width: 0;
  display: flex; flex-direction: column; gap: 0.375rem; padding: 0.5rem;
  border: 1px solid var(--st-border-color-light, var(--st-border-color));
  border-radius: var(--st-base-radius, 0.5rem); background: var(--st-background-color);
}
.tile:hover { border-color: var(--st-border-color); }
.tile:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
.tile img {
  display: block; width: 100%; aspect-ratio: 1; object-fit: contain;
  border-radius: calc(var(--st-base-radius, 0.5rem) * 0.75); background: var(--st-secondary-background-color);
}
.text { display: flex; flex-direction: column; gap: 0.125rem; min-width: 0; }
.label {
  font-size: 0.875rem; line-height: 1.35; text-align: center; overflow-wrap: anywhere;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
}
.detail { font-size: 0.8rem; opacity: 0.65; }
.list .tile { flex-direction: row; align-items: center; gap: 1rem; }
.list .tile img { width: 96px; flex: none; }
.list .label { text-align: left; }
.tick {
  display: none; position: absolute; top: 0.875rem; left: 0.875rem; width: 1.375rem; height: 1.375rem;
  box-sizing: border-box; border-radius: 50%; border: 2px solid #fff; background: rgba(0, 0, 0, 0.3);
  color: #fff; font-size: 0.875rem; line-height: 1; place-items: center;
}
.selecting .tick { display: grid; }
.tile[aria-pressed="true"] {
  border-color: var(--st-primary-color); box-shadow: inset 0 0 0 1px var(--st-primary-color);
}
.tile[aria-pressed="true"] .tick { background: var(--st-primary-color); border-color: transparent; }
.tile[aria-pressed="true"] .tick::after { content: "\\2713"; }
"""

# Tiles are kept per id, URL and text between runs: a rerun that only changes the ticks moves the same
# elements instead of building new ones, so no image is fetched or decoded twice.
_JS = """
const made = new WeakMap()

function build(item) {
  const tile = document.createElement("button")
  tile.type = "button"
  tile.className = "tile"
  tile.dataset.id = item.id
  const image = document.createElement("img")
  image.src = item.url
  image.alt = ""
  image.decoding = "async"
  const tick = document.createElement("span")
  tick.className = "tick"
  tick.setAttribute("aria-hidden", "true")
  const text = document.createElement("span")
  text.className = "text"
  const label = document.createElement("span")
  label.className = "label"
  label.textContent = item.label
  text.append(label)
  if (item.detail) {
    const detail = document.createElement("span")
    detail.className = "detail"
    detail.textContent = item.detail
    text.append(detail)
  }
  tile.append(image, tick, text)
  return tile
}

export default function ({ data, parentElement, setTriggerValue }) {
  const root = parentElement.querySelector(".tiles")
  const before = made.get(root) || new Map()
  const now = new Map()
  const chosen = new Set(data.selected)
  root.className = `tiles ${data.layout}${data.selecting ? " selecting" : ""}`
  root.replaceChildren(...data.tiles.map(item => {
    const identity = JSON.stringify([item.id, item.url, item.label, item.detail])
    const tile = before.get(identity) || build(item)
    now.set(identity, tile)
    tile.title = item.title
    tile.setAttribute("aria-label", `${data.selecting ? "Select" : "Open"}: ${item.label}`)
    if (data.selecting) tile.setAttribute("aria-pressed", String(chosen.has(item.id)))
    else tile.removeAttribute("aria-pressed")
    tile.onclick = () => setTriggerValue("clicked", item.id)
    return tile
  }))
  made.set(root, now)
}
"""

_TILES = st.components.v2.component("studio_thumbnails", html=_HTML, css=_CSS, js=_JS)


def tiles(
    items: list[Tile],
    *,
    key: str,
    layout: Layout,
    on_click: Callable[[str], None],
    selecting: bool = False,
    selected: Collection[str] = (),
) -> None:
    """The tiles in a responsive grid or as list rows; `on_click(tile id)` runs before the rerun a click
    starts. While `selecting`, each tile shows a tick (filled for the ids in `selected`)."""

    def clicked() -> None:
        value = st.session_state[key].clicked
        if isinstance(value, str):
            on_click(value)

    _TILES(
        key=key,
        data={
            "layout": layout,
            "selecting": selecting,
            "selected": [tile.id for tile in items if tile.id in selected],
            "tiles": [asdict(tile) for tile in items],
        },
        on_clicked_change=clicked,
    )
