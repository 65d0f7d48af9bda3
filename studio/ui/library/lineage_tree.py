"""An image's family as one element: the images it was made from and made into, drawn as a tree.

One Streamlit custom component (components v2, inline: no iframe, no build step), like the gallery's tiles
(thumbnails.py): thumbnail **URL strings** and text, set only as text. The tree is nested lists whose
borders draw the connectors; each node is a button (thumbnail, what was done, what changed from its
parent) and a click reports its id. Nodes are kept between reruns by id, URL and text, so a rerun that only
moves the highlight rebuilds no node and fetches no image; thumbnails load lazily, so a family of 200
costs the images on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import streamlit as st


@dataclass(frozen=True)
class TreeNode:
    id: str
    parent: str | None  # a parent not among the nodes makes this node a root
    url: str  # the thumbnail's URL, never its bytes
    label: str  # what made it, e.g. "Upscale 4×"
    detail: str  # what changed from its parent, e.g. "seed 12 → 99 · strength 0.5"
    title: str = ""  # the tooltip: the whole prompt


_HTML = """
<div class="lineage"></div>
"""

# Connectors: a child list is indented under its parent's thumbnail; each item draws the elbow to its
# node (::before) and, unless it is the last child, the line on down to its next sibling (::after).
# The sizes are fixed so the elbow meets the middle of the node: 6 px of gap above each node, a node of
# 56 px thumbnail + 2 × 6 px padding + 2 × 1 px border = 70 px, so its middle is 6 + 35 = 41 px down.
_CSS = """
.lineage { font-family: var(--st-font); color: var(--st-text-color); overflow-x: auto; padding-bottom: 2px;
  --line: color-mix(in srgb, var(--st-text-color) 32%, transparent); }
.lineage ul { list-style: none; margin: 0; padding: 0; }
.lineage li { position: relative; padding-top: 6px; }
.lineage li > ul { margin-left: 34px; }
.lineage li li { padding-left: 22px; }
.lineage li li::before, .lineage li li:not(:last-child)::after {
  content: ""; position: absolute; left: 0; top: 0; pointer-events: none;
  border-left: 1.5px solid var(--line);
}
.lineage li li::before {
  width: 18px; height: 41px; border-bottom: 1.5px solid var(--line); border-bottom-left-radius: 8px;
}
.lineage li li:not(:last-child)::after { bottom: 0; }
.node {
  all: unset; box-sizing: border-box; cursor: pointer; display: flex; align-items: center; gap: 0.75rem;
  height: 70px; width: 24rem; max-width: 100%; min-width: 14rem; padding: 6px 0.75rem 6px 6px;
  border: 1px solid var(--st-border-color-light, var(--st-border-color));
  border-radius: var(--st-base-radius, 0.5rem); background: var(--st-background-color);
}
.node:hover { border-color: var(--st-border-color); background: var(--st-secondary-background-color); }
.node:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
.node[aria-current="true"] {
  border-color: var(--st-primary-color); box-shadow: inset 0 0 0 1px var(--st-primary-color);
  background: color-mix(in srgb, var(--st-primary-color) 9%, var(--st-background-color));
}
.node img {
  display: block; flex: none; width: 56px; height: 56px; object-fit: cover;
  border-radius: calc(var(--st-base-radius, 0.5rem) * 0.75); background: var(--st-secondary-background-color);
}
.text { display: flex; flex-direction: column; gap: 0.125rem; min-width: 0; }
.label, .detail { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.label { font-size: 0.875rem; font-weight: 600; line-height: 1.35; }
.detail { font-size: 0.8rem; line-height: 1.3; opacity: 0.72; }
"""

_JS = """
const made = new WeakMap()

function build(item) {
  const node = document.createElement("button")
  node.type = "button"
  node.className = "node"
  node.dataset.id = item.id
  const image = document.createElement("img")
  image.src = item.url
  image.alt = ""
  image.loading = "lazy"
  image.decoding = "async"
  image.width = 56
  image.height = 56
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
  node.append(image, text)
  return node
}

export default function ({ data, parentElement, setTriggerValue }) {
  const root = parentElement.querySelector(".lineage")
  const before = made.get(root) || new Map()
  const now = new Map()
  const known = new Set(data.nodes.map(item => item.id))
  const children = new Map()
  const roots = []
  for (const item of data.nodes) {
    if (item.parent !== null && item.parent !== item.id && known.has(item.parent)) {
      if (!children.has(item.parent)) children.set(item.parent, [])
      children.get(item.parent).push(item)
    } else roots.push(item)
  }
  const placed = new Set()
  const node = item => {
    const identity = JSON.stringify([item.id, item.url, item.label, item.detail])
    const element = before.get(identity) || build(item)
    now.set(identity, element)
    element.title = item.title
    if (item.id === data.current) element.setAttribute("aria-current", "true")
    else element.removeAttribute("aria-current")
    element.onclick = () => setTriggerValue("opened", item.id)
    return element
  }
  const branch = (items, list) => {  // depth first, without recursion: a family may be one long line
    const stack = [[items, list, 0]]
    while (stack.length) {
      const top = stack[stack.length - 1]
      const [siblings, into] = top
      if (top[2] >= siblings.length) { stack.pop(); continue }
      const item = siblings[top[2]++]
      if (placed.has(item.id)) continue
      placed.add(item.id)
      const entry = document.createElement("li")
      entry.append(node(item))
      into.append(entry)
      const kids = children.get(item.id)
      if (kids) {
        const sublist = document.createElement("ul")
        entry.append(sublist)
        stack.push([kids, sublist, 0])
      }
    }
    return list
  }
  const tree = branch(roots, document.createElement("ul"))
  // Parents that form a circle have no root above them: each such node starts a tree of its own.
  for (const item of data.nodes) if (!placed.has(item.id)) branch([item], tree)
  for (const list of tree.querySelectorAll("ul")) if (!list.children.length) list.remove()
  root.replaceChildren(tree)
  made.set(root, now)
}
"""

_TREE = st.components.v2.component("studio_lineage_tree", html=_HTML, css=_CSS, js=_JS)


def lineage_tree(
    nodes: list[TreeNode], *, key: str, current: str | None, on_open: Callable[[str], None]
) -> None:
    """The family as a tree, roots first and each node's children under it in the given order, the
    `current` node highlighted; `on_open(node id)` runs before the rerun a click on a node starts."""

    def opened() -> None:
        value = st.session_state[key].opened
        if isinstance(value, str):
            on_open(value)

    _TREE(
        key=key,
        data={"current": current, "nodes": [asdict(node) for node in nodes]},
        on_opened_change=opened,
    )
