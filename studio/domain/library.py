"""The library's rules: gallery filters and sorts, keyset cursors, search words, tags, perceptual hashes.

Pure: the services turn these values into queries.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from studio.errors import InvalidInput

PAGE_SIZE = 48
PAGE_SIZES = (24, 48, 60)
TAG_MAX = 64
TAGS_PER_IMAGE = 30
#: Two perceptual hashes this close (bits of 64) are the same picture give or take a resize or re-encode.
SIMILAR_DISTANCE = 10
#: "Similar images" compares against this many of the owner's most recent hashes, so it stays bounded.
SIMILAR_SCAN_LIMIT = 20_000
#: Above this many images a ZIP is built by a job and offered as a link, not assembled while you wait.
ZIP_INLINE_LIMIT = 50
ZIP_MAX_IMAGES = 5_000

_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"^[\w][\w .+-]*$", re.UNICODE)


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    RATING = "rating"
    MODEL = "model"

    @property
    def label(self) -> str:
        return {"newest": "Newest", "oldest": "Oldest", "rating": "Rating", "model": "Model"}[self.value]


class Aspect(StrEnum):
    SQUARE = "square"
    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"


@dataclass(frozen=True)
class GalleryFilter:
    """What the gallery shows: every field narrows the set; the defaults show everything not in the trash."""

    created_from: date | None = None
    created_to: date | None = None  # inclusive
    model: str | None = None
    project_id: uuid.UUID | None = None
    collection_id: uuid.UUID | None = None
    tag: str | None = None
    favourites: bool = False
    min_rating: int | None = None
    aspect: Aspect | None = None
    min_megapixels: float | None = None
    search: str = ""
    duplicates: bool = False

    def __post_init__(self) -> None:
        if self.min_rating is not None and not 1 <= self.min_rating <= 5:
            raise InvalidInput("A minimum rating is 1 to 5 stars.")
        if self.min_megapixels is not None and self.min_megapixels < 0:
            raise InvalidInput("A minimum resolution cannot be negative.")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise InvalidInput("The date range ends before it starts.")

    @property
    def active(self) -> bool:
        return self != GalleryFilter()


@dataclass(frozen=True)
class Cursor:
    """A position in one sort order: the sort key values of an image, and which way to read from it."""

    values: tuple[Any, ...]
    before: bool = False  # True: the page that ends just before this position (the "previous" page)

    def encode(self) -> str:
        payload = [_plain(value) for value in self.values]
        raw = json.dumps({"v": payload, "b": self.before}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        """InvalidInput for anything a cursor of `sort` cannot be (an edited or stale URL)."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            values = list(data["v"])
            kinds = SORT_KEY_KINDS[sort]
            if len(values) != len(kinds):
                raise ValueError("wrong length")
            parsed = tuple(_parse(kind, value) for kind, value in zip(kinds, values, strict=True))
            return cls(parsed, bool(data.get("b", False)))
        except (ValueError, KeyError, TypeError) as err:  # binascii.Error is a ValueError
            raise InvalidInput("That page position is not valid; showing the first page.") from err


#: The kinds of each sort's key values, in order; the image id always breaks ties last.
SORT_KEY_KINDS: dict[Sort, tuple[str, ...]] = {
    Sort.NEWEST: ("datetime", "uuid"),
    Sort.OLDEST: ("datetime", "uuid"),
    Sort.RATING: ("int", "datetime", "uuid"),
    Sort.MODEL: ("str", "datetime", "uuid"),
}
#: Per key: True when it is read in descending order.
SORT_DESCENDING: dict[Sort, tuple[bool, ...]] = {
    Sort.NEWEST: (True, True),
    Sort.OLDEST: (False, False),
    Sort.RATING: (True, True, True),
    Sort.MODEL: (False, True, True),
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


def _parse(kind: str, value: Any) -> Any:
    if kind == "datetime":
        stamp = datetime.fromisoformat(str(value))
        if stamp.tzinfo is None:
            raise ValueError("naive timestamp")
        return stamp
    if kind == "uuid":
        return uuid.UUID(str(value))
    if kind == "int":
        if not isinstance(value, int):
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


#: Words too common to search for. PostgreSQL's english configuration drops these itself; dropping them here
#: too makes SQLite (FTS5 indexes every word) answer the same: "a cat" finds what "cat" finds on both.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has", "have", "he",
    "her", "his", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or",
    "our", "she", "so", "such", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "to", "was", "we", "were", "will", "with", "you", "your",
})  # fmt: skip


def search_words(text: str) -> list[str]:
    """The words of a search box, at most 16, common words left out: punctuation and search operators are
    not special."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS][:16]


def fts5_query(words: list[str]) -> str:
    """An FTS5 MATCH expression requiring every word: each word quoted, so none is read as an operator."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def normalise_tag(text: str) -> str:
    tag = " ".join(text.strip().lower().split())
    if not tag:
        raise InvalidInput("A tag cannot be empty.")
    if len(tag) > TAG_MAX or not _TAG.match(tag):
        raise InvalidInput(f"A tag is up to {TAG_MAX} letters, digits, spaces, dots, dashes or plus signs.")
    return tag


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags, normalised and de-duplicated in order."""
    tags: list[str] = []
    for part in text.split(","):
        if part.strip():
            tag = normalise_tag(part)
            if tag not in tags:
                tags.append(tag)
    if len(tags) > TAGS_PER_IMAGE:
        raise InvalidInput(f"An image has at most {TAGS_PER_IMAGE} tags.")
    return tags


def aspect_of(width: int, height: int) -> Aspect:
    if width == height:
        return Aspect.SQUARE
    return Aspect.PORTRAIT if height > width else Aspect.LANDSCAPE


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex perceptual hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
