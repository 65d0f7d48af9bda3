"""The prompt library's rules: what a saved prompt may hold, the studio's style modifiers, prompt weights.

Templates (variables and wildcards) are `studio.domain.templates`; files in and out are
`studio.domain.prompt_files`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from studio.domain.catalogue import NEGATIVE_PROMPT_MAX_CHARS, PROMPT_MAX_CHARS
from studio.domain.library import normalise_tag

TITLE_MAX_CHARS = 200
CATEGORY_MAX_CHARS = 64
TAGS_PER_PROMPT = 20
LIST_NAME = re.compile(r"^[A-Za-z0-9_\-/]{1,64}$")
LIST_MAX_ENTRIES = 10_000
ENTRY_MAX_CHARS = 500
PRESET_NAME_MAX_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# (word:1.2) or (two words:0.8): the weighting A1111 and Compel read; other models read it as text.
_WEIGHT = re.compile(r"\(([^():]+):\s*(\d+(?:\.\d+)?)\)")


class Sort(StrEnum):
    RECENT = "recent"
    MOST_USED = "most_used"
    NAME = "name"


@dataclass(frozen=True)
class PromptForm:
    """A prompt as a person writes it into the library."""

    title: str
    text: str
    negative_prompt: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    favourite: bool = False


@dataclass(frozen=True)
class Modifier:
    """A style modifier or quality booster: a quick-add chip on Generate."""

    name: str
    text: str  # with "{prompt}" it wraps the prompt, else it is appended after ", "
    category: str
    negative_prompt: str = ""


def problems(form: PromptForm) -> list[str]:
    """What is wrong with a prompt before it is saved; empty when it may be."""
    found: list[str] = []
    title, text = form.title.strip(), form.text.strip()
    if not title:
        found.append("Give the prompt a title.")
    if len(title) > TITLE_MAX_CHARS:
        found.append(f"The title is {len(title)} characters long; the limit is {TITLE_MAX_CHARS}.")
    if not text:
        found.append("The prompt is empty.")
    if len(text) > PROMPT_MAX_CHARS:
        found.append(f"The prompt is {len(text)} characters long; the limit is {PROMPT_MAX_CHARS}.")
    if len(form.negative_prompt.strip()) > NEGATIVE_PROMPT_MAX_CHARS:
        found.append(f"The negative prompt is longer than {NEGATIVE_PROMPT_MAX_CHARS} characters.")
    if len(form.category.strip()) > CATEGORY_MAX_CHARS:
        found.append(f"The category is longer than {CATEGORY_MAX_CHARS} characters.")
    if len(form.tags) > TAGS_PER_PROMPT:
        found.append(f"A prompt has at most {TAGS_PER_PROMPT} tags.")
    if any(_CONTROL.search(part) for part in (title, text, form.negative_prompt, form.category)):
        found.append("The prompt contains control characters.")
    return found


def tags_of(text: str) -> tuple[str, ...]:
    """Comma-separated tags, normalised and de-duplicated in order."""
    tags: list[str] = []
    for part in text.split(","):
        tag = normalise_tag(part) if part.strip() else ""
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def list_problems(name: str, entries: list[str]) -> list[str]:
    found = []
    if not LIST_NAME.match(name):
        found.append("A list's name is 1-64 letters, digits, _ - or /, as written between __ and __.")
    if not entries:
        found.append("The list is empty: one entry a line.")
    if len(entries) > LIST_MAX_ENTRIES:
        found.append(f"A list holds at most {LIST_MAX_ENTRIES:,} entries.")
    if any(len(entry) > ENTRY_MAX_CHARS for entry in entries):
        found.append(f"An entry is longer than {ENTRY_MAX_CHARS} characters.")
    return found


def entries_of(text: str) -> list[str]:
    """One entry a line, blank lines and # comments left out."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def apply_modifier(prompt: str, modifier: Modifier) -> str:
    """The prompt with the modifier added: wrapped by it ({prompt}), or the modifier after ", "."""
    prompt = prompt.strip()
    if "{prompt}" in modifier.text:
        wrapped = modifier.text.replace("{prompt}", prompt)
        return wrapped if prompt else wrapped.strip(" ,")
    return f"{prompt}, {modifier.text}" if prompt else modifier.text


def has_weights(text: str) -> bool:
    return _WEIGHT.search(text) is not None


def without_weights(text: str) -> str:
    """(word:1.2) as plain "word", for models that would read the weights as text."""
    return _WEIGHT.sub(lambda match: match[1].strip(), text)


#: The studio's style modifiers, seeded on start; admins switch them off or add more, users add their own.
DEFAULT_MODIFIERS: tuple[Modifier, ...] = (
    Modifier("Golden hour", "golden hour light, warm low sun, long shadows", "Lighting"),
    Modifier("Studio light", "soft studio lighting, softbox, clean background", "Lighting"),
    Modifier("Neon night", "neon lights at night, wet reflections, cyan and magenta", "Lighting"),
    Modifier("Rim light", "dramatic rim light, dark background", "Lighting"),
    Modifier("35mm film", "shot on 35mm film, Kodak Portra 400, natural grain", "Camera"),
    Modifier("Macro", "macro photograph, 100mm lens, shallow depth of field", "Camera"),
    Modifier("Wide angle", "wide-angle lens, 16mm, sweeping perspective", "Camera"),
    Modifier("Aerial", "aerial drone view from above", "Camera"),
    Modifier("Oil painting", "oil painting of {prompt}, thick brush strokes, canvas texture", "Medium"),
    Modifier("Watercolour", "watercolour painting of {prompt}, soft washes, paper texture", "Medium"),
    Modifier("Pencil sketch", "pencil sketch of {prompt}, graphite, cross-hatching", "Medium"),
    Modifier("3D render", "3d render, octane, global illumination", "Medium"),
    Modifier("Art nouveau", "art nouveau style, flowing organic lines, ornamental", "Art style"),
    Modifier("Ukiyo-e", "ukiyo-e woodblock print of {prompt}, flat colours, bold outlines", "Art style"),
    Modifier("Pixel art", "pixel art of {prompt}, 16-bit, limited palette", "Art style"),
    Modifier("Isometric", "isometric illustration, clean vector shapes", "Art style"),
    Modifier("Highly detailed", "highly detailed, intricate", "Quality"),
    Modifier("4k", "4k, ultra sharp", "Quality"),
    Modifier("Award-winning", "award-winning photograph", "Quality"),
    Modifier(
        "Clean",
        "clean composition",
        "Quality",
        negative_prompt="blurry, lowres, watermark, text, jpeg artifacts",
    ),
)

#: A few phrasings that suit each family of models (shown by model; models not listed get the general ones).
SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "general": (
        "Subject first, then setting, light and style: a red fox in fresh snow, dawn light, telephoto",
        "Name the medium: an ink drawing of ..., a product photo of ...",
    ),
    "fal-ai/flux/dev": (
        "Write full sentences: FLUX follows natural language well",
        'Put text to render in quotes: a shop sign that reads "OPEN"',
    ),
    "fal-ai/flux/schnell": ("Short and concrete: schnell takes few steps, so keep the scene simple",),
    "fal-ai/flux-pro/v1.1-ultra": (
        "Describe the photograph: lens, light, film stock; switch on Raw for a natural look",
    ),
    "fal-ai/fast-sdxl": (
        "Comma-separated tags work well: portrait, rim light, 85mm, bokeh",
        "Weights are read here: (glowing eyes:1.3)",
        "Keep the negative prompt for what to avoid: blurry, extra fingers",
    ),
    "fal-ai/lora": (
        "Comma-separated tags work well: portrait, rim light, 85mm, bokeh",
        "Weights are read here: (glowing eyes:1.3)",
    ),
    "rundiffusion-fal/rundiffusion-photo-flux": (
        "Describe a real photograph: who, where, the light, the camera",
    ),
}


def suggestions_for(endpoint_id: str) -> tuple[str, ...]:
    return SUGGESTIONS.get(endpoint_id, SUGGESTIONS["general"])
