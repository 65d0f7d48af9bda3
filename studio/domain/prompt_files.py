"""Import and export of a prompt library: pure functions over bytes and text, no files.

`read_library` reads five formats, named in `ImportReport.format`:
- "json": our export, `{"version": 1, "prompts": [...], "styles": [...], "wildcards": [...]}`;
- "csv": our prompts, `name,prompt,negative_prompt,category,tags,favourite` (tags split on ";" or ",");
- "a1111": A1111's styles.csv, `name,prompt,negative_prompt` (or the old `name,text`);
- "invokeai": InvokeAI's prompt templates, the same three columns as exported (prompt_templates.csv), or the
  JSON list it imports (`name`, `prompt` or `positive_prompt`, `negative_prompt`, maybe under `preset_data`);
- "wildcards": a .txt list, one entry a line, blank lines and `#` comments skipped, named after the file.
A1111 and InvokeAI both become StyleEntry with `{prompt}` kept; only the label differs. Which label a
three-column CSV gets: the caller's `styles_format` if given; else "invokeai" when a column is called
positive_prompt or the file is named prompt_templates*.csv; else (styles.csv above all) "a1111".

Which format: the content decides, the file name is the hint. A `.txt` is a wildcard list whatever its
lines look like (`{red|blue}` is a fine entry); text that parses as a JSON object or list is JSON (a `.json`
that does not parse is refused); a first row naming `name` and `prompt` columns is CSV (a `.csv` without one
is refused); with those columns plus any of category/tags/favourite it is our CSV, else a style file; a file
without an extension is a wildcard list; anything else is refused.

Numbers in `Refused.line`: CSV rows as a spreadsheet counts them (the header is row 1, a quoted value over
several lines is one row; the reason adds "(line N)" where an editor's line differs); lines of a .txt; the
1-based place of an item in its JSON list; 0 for the file as a whole, and then nothing at all is taken.

Every entry is normalised when built (stripped; line breaks "\\n" in prompts; tabs and line breaks a space in
one-line fields; tags lower-cased and de-duplicated) and raises InvalidInput when it cannot be, so any entry
that exists can be written and read back: read(write(x)) == x.

CSV injection: a written cell that starts with = + - @ tab or CR, after any apostrophes, gets one more
apostrophe in front. Reading our CSV takes one off any cell of that shape: unambiguous, because every such
value was written with one more. A1111 and InvokeAI files are not ours, so their apostrophes stay: their
round trip is exact for values that do not start so, and for styles without a category (A1111 has none).

The CSV codec is written here because the domain's standard library stops short of `csv` (tests/unit/
test_layers.py); the tests hold it to what `csv` reads and writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from studio.domain.catalogue import NEGATIVE_PROMPT_MAX_CHARS, PROMPT_MAX_CHARS
from studio.domain.library import TAG_MAX, normalise_tag
from studio.domain.prompts import (
    CATEGORY_MAX_CHARS,
    ENTRY_MAX_CHARS,
    LIST_MAX_ENTRIES,
    LIST_NAME,
    TAGS_PER_PROMPT,
    TITLE_MAX_CHARS,
)
from studio.errors import InvalidInput

Format = Literal["json", "csv", "a1111", "invokeai", "wildcards", "unknown"]  # "unknown": refused unread
StylesFormat = Literal["a1111", "invokeai"]

PLACEHOLDER = "{prompt}"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PROMPTS = 5_000
MAX_STYLES = 1_000
MAX_LISTS = 200
NAME_MAX_CHARS = 64  # a style's or a list's name: the tables hold 64
MAX_VALUES = 64  # in one CSV row: ours has 6 columns
PROMPT_COLUMNS = ("name", "prompt", "negative_prompt", "category", "tags", "favourite")
STYLE_COLUMNS = ("name", "prompt", "negative_prompt")

_LINE_BAD = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_TEXT_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # a prompt may hold tabs and line breaks
_SPACES = re.compile(r"[\t\r\n]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TAG_SPLIT = re.compile(r"[;,]")
_FORMULA = re.compile(r"'*[=+\-@\t\r]")  # what a spreadsheet would run, behind any apostrophes
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
# One CSV field, as `csv` reads it with skipinitialspace (as A1111 does): quoted ("" is a quote, text after
# the closing quote is kept) or plain. Possessive, so an unclosed quote is a plain field starting with ".
_FIELD = re.compile(r' *(?:"((?:[^"]++|"")*+)"([^,\r\n]*)|([^,\r\n]*))')
_NEEDS_QUOTES = re.compile(r'[",\r\n]|^ ')
_BLANK_ROWS = re.compile(r"(?:[ ,]*(?:\r\n|\r|\n))+")
_TEXT_LINE = re.compile(r"[^\r\n]+")
_COLUMN_ALIASES = {"title": "name", "text": "prompt", "positive_prompt": "prompt", "favorite": "favourite"}
_YES = ("yes", "y", "true", "1")
_NO = ("", "no", "n", "false", "0")
_UTF8_BOM = b"\xef\xbb\xbf"


# --- the entries ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptEntry:
    """A prompt of the library, normalised when built; InvalidInput says what is wrong."""

    title: str
    text: str  # may be a template: {a|b}, __colours__, {prompt}
    negative_prompt: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    favourite: bool = False

    def __post_init__(self) -> None:
        _set(self, "title", _line(self.title, "the title", TITLE_MAX_CHARS, required=True))
        _set(self, "text", _text(self.text, "the prompt", PROMPT_MAX_CHARS, required=True))
        _set(
            self,
            "negative_prompt",
            _text(self.negative_prompt, "the negative prompt", NEGATIVE_PROMPT_MAX_CHARS),
        )
        _set(self, "category", _line(self.category, "the category", CATEGORY_MAX_CHARS))
        _set(self, "tags", _tags(self.tags))
        _set(self, "favourite", _flag(self.favourite))


@dataclass(frozen=True)
class StyleEntry:
    """A style modifier: wraps the prompt where its text has {prompt}, else follows it after ", "."""

    name: str
    text: str
    negative_prompt: str = ""
    category: str = ""

    def __post_init__(self) -> None:
        name = _line(self.name, "the name", NAME_MAX_CHARS, required=True)
        text = _text(self.text, "the style's prompt", PROMPT_MAX_CHARS)
        negative = _text(self.negative_prompt, "the style's negative prompt", NEGATIVE_PROMPT_MAX_CHARS)
        if not text and not negative:
            raise InvalidInput(f"the style '{name}' has neither a prompt nor a negative prompt")
        if text.count(PLACEHOLDER) > 1:
            raise InvalidInput(f"the style '{name}' holds {PLACEHOLDER} more than once")
        _set(self, "name", name)
        _set(self, "text", text)
        _set(self, "negative_prompt", negative)
        _set(self, "category", _line(self.category, "the category", CATEGORY_MAX_CHARS))


@dataclass(frozen=True)
class WildcardList:
    """A named list a template draws from with __name__; duplicates stay (they weigh the draw)."""

    name: str
    entries: tuple[str, ...]

    def __post_init__(self) -> None:
        name = _list_name(self.name)
        entries = _entries(self.entries)
        if not entries:
            raise InvalidInput(f"the list '{name}' has no entries")
        if len(entries) > LIST_MAX_ENTRIES:
            raise InvalidInput(
                f"the list '{name}' has {len(entries):,} entries; at most {LIST_MAX_ENTRIES:,} fit"
            )
        _set(self, "name", name)
        _set(self, "entries", entries)


@dataclass(frozen=True)
class Library:
    prompts: tuple[PromptEntry, ...] = ()
    styles: tuple[StyleEntry, ...] = ()
    wildcards: tuple[WildcardList, ...] = ()


@dataclass(frozen=True)
class Refused:
    line: int  # 1-based row, line or item of the file; 0 for the file as a whole
    reason: str  # "row 4: the prompt is empty"


@dataclass(frozen=True)
class ImportReport:
    """What a file would add (all of it valid: take it whole or not at all) and what was refused."""

    library: Library
    refused: tuple[Refused, ...]
    format: Format


def _set(entry: object, name: str, value: object) -> None:
    object.__setattr__(entry, name, value)  # a frozen dataclass keeps its normalised value


def _string(value: object, what: str) -> str:
    if value is None:
        raise InvalidInput(f"{what} is missing")
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {type(value).__name__}")
    return value


def _line(value: object, what: str, most: int, *, required: bool = False) -> str:
    text = _SPACES.sub(" ", _string(value, what)).strip()  # a title pasted with a line break stays one line
    return _sized(text, _LINE_BAD, what, most, required)


def _text(value: object, what: str, most: int, *, required: bool = False) -> str:
    text = _string(value, what).replace("\r\n", "\n").replace("\r", "\n").strip()
    return _sized(text, _TEXT_BAD, what, most, required)


def _sized(text: str, bad: re.Pattern[str], what: str, most: int, required: bool) -> str:
    if found := bad.search(text):
        raise InvalidInput(f"{what} contains the control character U+{ord(found.group()):04X}")
    if required and not text:
        raise InvalidInput(f"{what} is empty")
    if len(text) > most:
        raise InvalidInput(f"{what} is {len(text):,} characters long; at most {most:,} fit")
    return text


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput("the tags must be a list")
    tags: dict[str, None] = {}  # ordered, de-duplicated
    if len(value) > 10 * TAGS_PER_PROMPT:
        raise InvalidInput(f"{len(value):,} tags; a prompt has at most {TAGS_PER_PROMPT}")
    for raw in value:
        if _string(raw, "a tag").strip():
            try:
                tags[normalise_tag(raw)] = None
            except InvalidInput:
                raise InvalidInput(
                    f"the tag '{raw.strip()}' is not 1 to {TAG_MAX} letters, digits, spaces, dots, dashes or"
                    " plus signs"
                ) from None
    if len(tags) > TAGS_PER_PROMPT:
        raise InvalidInput(f"{len(tags)} tags; a prompt has at most {TAGS_PER_PROMPT}")
    return tuple(tags)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("favourite must be true or false")
    return value


def _list_name(value: object) -> str:
    name = _line(value, "the list name", NAME_MAX_CHARS, required=True)
    if not LIST_NAME.match(name):
        raise InvalidInput(f"the list name '{name}' is not 1 to 64 letters, digits, _ - or /")
    return name


def _entries(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput("the entries must be a list")
    return tuple(_line(entry, "the entry", ENTRY_MAX_CHARS, required=True) for entry in value)


def _problem(check: Callable[[], object]) -> str | None:
    try:
        check()
    except InvalidInput as err:
        return str(err)
    return None


# --- reading --------------------------------------------------------------------------------------------


class _FileRefused(Exception):
    """The whole file is refused: nothing is taken."""

    def __init__(self, reason: str, format: Format = "unknown") -> None:
        super().__init__(reason)
        self.format: Format = format


Entry = PromptEntry | StyleEntry | WildcardList


class _Taken:
    """What a file yields so far: the entries kept, the first of each name, the refusals, in order."""

    def __init__(self) -> None:
        self.prompts: list[PromptEntry] = []
        self.styles: list[StyleEntry] = []
        self.wildcards: list[WildcardList] = []
        self.refused: list[Refused] = []
        self._first: dict[tuple[str, str], str] = {}

    def refuse(self, line: int, where: str, reason: str) -> None:
        self.refused.append(Refused(line, f"{where}: {reason}" if where else reason))

    def add(self, line: int, where: str, make: Callable[[], Entry]) -> None:
        try:
            entry = make()
        except InvalidInput as err:
            self.refuse(line, where, str(err))
            return
        kind, named, name = (
            ("prompt", "titled", entry.title)
            if isinstance(entry, PromptEntry)
            else ("style" if isinstance(entry, StyleEntry) else "list", "named", entry.name)
        )
        first = self._first.setdefault((kind, name.casefold()), where)
        if first != where:
            self.refuse(line, where, f"a second {kind} {named} '{name}' (the first is {first})")
        elif isinstance(entry, PromptEntry):
            self.prompts.append(entry)
        elif isinstance(entry, StyleEntry):
            self.styles.append(entry)
        else:
            self.wildcards.append(entry)

    def report(self, format: Format) -> ImportReport:
        library = Library(tuple(self.prompts), tuple(self.styles), tuple(self.wildcards))
        return ImportReport(library, tuple(self.refused), format)


def read_library(data: bytes, filename: str, *, styles_format: StylesFormat | None = None) -> ImportReport:
    """What a file would add to a library and each row refused, by number and why; never raises."""
    base = filename.replace("\\", "/").rpartition("/")[2]
    stem, dot, ext = base.rpartition(".")
    stem, ext = (stem, ext.lower()) if dot else (base, "")
    try:
        text = _decode(data)
        if ext == "txt":
            return _read_wildcards(text, stem)
        if ext == "json" or text.lstrip().startswith(("{", "[")):
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as err:
                if ext == "json":
                    raise _FileRefused(_json_problem(err), "json") from None
            else:
                return _read_json(value)
        records = _csv_records(text)
        header = next(records, None)
        if ext == "csv" or (isinstance(header, _Record) and _columns(header)[1] is not None):
            return _read_csv(header, records, stem, styles_format)
        if ext in ("yaml", "yml"):
            raise _FileRefused(
                "YAML wildcard files are not read here: save each list as a .txt, one entry a line."
            )
        if ext:
            raise _FileRefused(
                f"'{base}' is not a file we read: import a studio .json or .csv export, an A1111 styles.csv,"
                " an InvokeAI prompt template export or a .txt wildcard list."
            )
        return _read_wildcards(text, stem)
    except _FileRefused as refusal:
        return ImportReport(Library(), (Refused(0, str(refusal)),), refusal.format)


def _decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise _FileRefused(f"The file is over 5 MB ({len(data):,} bytes): split it and import the parts.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileRefused("The file is saved as UTF-16: save it as UTF-8 and import it again.")
    try:
        text = data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise _FileRefused(
            f"The file is not UTF-8: line {line} has a byte (0x{data[err.start]:02X}) UTF-8 cannot have. Save"
            " it as UTF-8 (in Excel: “CSV UTF-8”) and import it again."
        ) from None
    if "\x00" in text:
        raise _FileRefused("The file holds NUL characters, so it is not UTF-8 text: save it as UTF-8.")
    return text


def _json_problem(err: ValueError | RecursionError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"The file is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}."
    if isinstance(err, RecursionError):
        return "The file's JSON is nested too deeply to read."
    return f"The file is not valid JSON: {err}."


def _read_json(value: object) -> ImportReport:
    if isinstance(value, list):
        return _read_invokeai_json(value)
    version = value.get("version") if isinstance(value, dict) else None
    if not isinstance(value, dict) or type(version) is not int or version != 1:
        newer = type(version) is int and version > 1
        raise _FileRefused(
            f"The file comes from a newer studio (version {version}); this one reads version 1."
            if newer
            else 'The JSON is not a studio prompt library export: that is an object with "version": 1.',
            "json",
        )
    sections = {key: value.get(key, []) for key in ("prompts", "styles", "wildcards")}
    limits = {"prompts": MAX_PROMPTS, "styles": MAX_STYLES, "wildcards": MAX_LISTS}
    for key, items in sections.items():
        if not isinstance(items, list):
            raise _FileRefused(f'"{key}" must be a list.', "json")
        if len(items) > limits[key]:
            raise _FileRefused(
                f"The file has {len(items):,} {key}; import at most {limits[key]:,} at a time.", "json"
            )
    taken = _Taken()
    if unknown := sorted(set(value) - {"version", *sections}):
        taken.refuse(0, "", f"{_quoted(unknown)} left out: not part of a version 1 export")
    readers = (("prompt", "prompts", _json_prompt), ("style", "styles", _json_style))
    for label, key, make in readers:
        for number, item in enumerate(sections[key], 1):
            if isinstance(item, dict):
                taken.add(number, f"{label} {number}", partial(make, item))
            else:
                taken.refuse(number, f"{label} {number}", f"expected an object, not {type(item).__name__}")
    for number, item in enumerate(sections["wildcards"], 1):
        if not isinstance(item, dict):
            taken.refuse(number, f"list {number}", f"expected an object, not {type(item).__name__}")
            continue
        entries: Any = item.get("entries")
        if isinstance(entries, list) and len(entries) <= LIST_MAX_ENTRIES:  # one bad entry is refused alone
            kept = []
            for place, entry in enumerate(entries, 1):
                if problem := _problem(partial(_line, entry, "the entry", ENTRY_MAX_CHARS, required=True)):
                    taken.refuse(number, f"list {number}, entry {place}", problem)
                else:
                    kept.append(entry)
            entries = kept
        taken.add(number, f"list {number}", partial(WildcardList, _required(item, "name"), entries))
    for key, known in (
        ("prompts", _PROMPT_KEYS),
        ("styles", _STYLE_KEYS),
        ("wildcards", ("name", "entries")),
    ):
        extra = sorted(
            {name for item in sections[key] if isinstance(item, dict) for name in item} - set(known)
        )
        if extra:
            taken.refuse(0, "", f"{key}: {_quoted(extra)} left out: not part of a version 1 export")
    return taken.report("json")


_PROMPT_KEYS = ("title", "text", "negative_prompt", "category", "tags", "favourite")
_STYLE_KEYS = ("name", "text", "negative_prompt", "category")


def _json_prompt(item: dict[str, Any]) -> PromptEntry:
    return PromptEntry(
        title=_required(item, "title"),
        text=_required(item, "text"),
        negative_prompt=_optional(item, "negative_prompt"),
        category=_optional(item, "category"),
        tags=item.get("tags", ()),
        favourite=item.get("favourite", False),
    )


def _json_style(item: dict[str, Any]) -> StyleEntry:
    return StyleEntry(
        name=_required(item, "name"),
        text=_optional(item, "text"),
        negative_prompt=_optional(item, "negative_prompt"),
        category=_optional(item, "category"),
    )


def _required(item: dict[str, Any], key: str) -> Any:
    return item.get(key)  # None, or a wrong type, is refused when the entry is built


def _optional(item: dict[str, Any], key: str) -> Any:
    value = item.get(key)
    return "" if value is None else value


def _read_invokeai_json(items: list[Any]) -> ImportReport:
    if len(items) > MAX_STYLES:
        raise _FileRefused(f"The file has {len(items):,} presets; import at most {MAX_STYLES:,}.", "invokeai")
    taken = _Taken()
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            taken.refuse(number, f"preset {number}", f"expected an object, not {type(item).__name__}")
            continue
        data = item["preset_data"] if isinstance(item.get("preset_data"), dict) else item
        text = data.get("positive_prompt", data.get("prompt"))
        style = partial(
            StyleEntry,
            _required(item, "name"),
            "" if text is None else text,
            _optional(data, "negative_prompt"),
        )
        taken.add(number, f"preset {number}", style)
    return taken.report("invokeai")


def _read_csv(
    header: _Record | Refused | None,
    records: Iterator[_Record | Refused],
    stem: str,
    styles_format: StylesFormat | None,
) -> ImportReport:
    if not isinstance(header, _Record):
        raise _FileRefused(header.reason if header else "The file has no rows to read.", "csv")
    columns, ours = _columns(header)
    if ours is None:
        raise _FileRefused(
            "The first row must name the columns: name,prompt,negative_prompt for styles (A1111,"
            f" InvokeAI), or {','.join(PROMPT_COLUMNS)} for prompts.",
            "csv",
        )
    named = [column for column in columns if column]
    if twice := sorted({column for column in named if named.count(column) > 1}):
        raise _FileRefused(f"Two columns are both {_quoted(twice)}: keep one and import again.", "csv")
    format: Format = "csv" if ours else styles_format or _styles_format(header, stem)
    most, what = (MAX_PROMPTS, "prompts") if ours else (MAX_STYLES, "styles")
    rows: list[_Record] = []
    broken = None
    for record in records:  # counted as they come, so a huge file stops early
        if isinstance(record, Refused):
            broken = record
        elif any(field.strip() for field in record.fields):
            rows.append(record)
            if len(rows) > most:
                raise _FileRefused(
                    f"The file has over {most:,} {what}: import at most {most:,} at a time.", format
                )
    taken = _Taken()
    known = PROMPT_COLUMNS if ours else STYLE_COLUMNS
    unread = [i for i, column in enumerate(columns) if column not in known]
    if unused := [header.fields[i].strip() or f"column {i + 1}" for i in unread if _filled(rows, i)]:
        taken.refuse(header.row, header.where, f"{_quoted(unused)} left out: not a column we read")
    for record in rows:
        if len(record.fields) > len(columns):
            many = f"{len(record.fields)} values under {len(columns)} columns"
            taken.refuse(record.row, record.where, f"{many} (a value with a comma needs quotes)")
            continue
        values = dict(zip(columns, record.fields, strict=False))
        if ours:
            taken.add(record.row, record.where, partial(_csv_prompt, values))
        else:
            style = partial(StyleEntry, values.get("name", ""), values.get("prompt", ""))
            taken.add(record.row, record.where, partial(style, values.get("negative_prompt", "")))
    if broken:
        taken.refused.append(broken)
    return taken.report(format)


def _columns(header: _Record) -> tuple[list[str], bool | None]:
    """The header's columns by our names, and whether they are our prompts (True), styles (False) or
    neither (None)."""
    columns = [cell.strip().lower().replace(" ", "_") for cell in header.fields]
    columns = [_COLUMN_ALIASES.get(column, column) for column in columns]
    if "name" not in columns or "prompt" not in columns:
        return columns, None
    return columns, bool({"category", "tags", "favourite"} & set(columns))


def _styles_format(header: _Record, stem: str) -> StylesFormat:
    invokeai = "positive_prompt" in (cell.strip().lower() for cell in header.fields)
    return "invokeai" if invokeai or stem.lower().startswith("prompt_templates") else "a1111"


def _filled(rows: list[_Record], index: int) -> bool:
    return any(index < len(row.fields) and row.fields[index].strip() for row in rows)


def _csv_prompt(values: dict[str, str]) -> PromptEntry:
    values = {column: value[1:] if _ESCAPED.match(value) else value for column, value in values.items()}
    favourite = values.get("favourite", "").strip().casefold()
    if favourite not in _YES + _NO:
        raise InvalidInput(f"favourite must be yes or no, not '{values['favourite'].strip()}'")
    return PromptEntry(
        title=values.get("name", ""),
        text=values.get("prompt", ""),
        negative_prompt=values.get("negative_prompt", ""),
        category=values.get("category", ""),
        tags=tuple(_TAG_SPLIT.split(values.get("tags", ""))),
        favourite=favourite in _YES,
    )


def _read_wildcards(text: str, stem: str) -> ImportReport:
    if problem := _problem(partial(_list_name, stem)):
        raise _FileRefused(f"The file's name is the list's name, and {problem}.", "wildcards")
    taken = _Taken()
    entries: list[str] = []
    number, counted = 1, 0
    for found in _TEXT_LINE.finditer(text):
        entry = found.group().strip()
        if not entry or entry.startswith("#"):
            continue
        if len(entries) + len(taken.refused) == LIST_MAX_ENTRIES:
            raise _FileRefused(
                f"The list has over {LIST_MAX_ENTRIES:,} entries: at most {LIST_MAX_ENTRIES:,} fit.",
                "wildcards",
            )
        number += _breaks(text, counted, found.start())
        counted = found.start()
        if problem := _problem(partial(_line, entry, "the entry", ENTRY_MAX_CHARS)):
            taken.refuse(number, f"line {number}", problem)
        else:
            entries.append(entry)
    if entries:
        taken.add(1, "the file", partial(WildcardList, stem, tuple(entries)))
    elif not taken.refused:
        raise _FileRefused("The file has no entries: every line is blank or a # comment.", "wildcards")
    return taken.report("wildcards")


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


# --- the CSV codec --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    row: int  # as a spreadsheet counts rows
    line: int  # where it starts in a text editor
    fields: list[str]

    @property
    def where(self) -> str:
        return f"row {self.row}" if self.line == self.row else f"row {self.row} (line {self.line})"


def _csv_records(text: str) -> Iterator[_Record | Refused]:
    """The records of a CSV text as `csv` reads them, blank ones left out; a Refused ends them (a quote
    never closed, or a row of too many values)."""
    pos, row, line = 0, 0, 1
    while pos < len(text):
        if blank := _BLANK_ROWS.match(text, pos):  # in one step: Excel may add thousands
            pos, row, line = blank.end(), row + _breaks(blank.group()), line + _breaks(blank.group())
            continue
        row += 1
        record = _Record(row, line, [])
        while True:
            field = _FIELD.match(text, pos)
            assert field is not None  # the pattern matches the empty string
            quoted, after, plain = field.groups()
            if plain is not None and plain.startswith('"'):
                yield Refused(
                    row, f"{record.where}: a quote opens here and never closes; the rest was not read"
                )
                return
            if len(record.fields) == MAX_VALUES:
                yield Refused(row, f"{record.where}: over {MAX_VALUES} values; the rest was not read")
                return
            record.fields.append(plain if plain is not None else quoted.replace('""', '"') + after)
            line += _breaks(field.group())
            pos = field.end()
            if text.startswith(",", pos):
                pos += 1
                continue
            if end := _LINE_BREAK.match(text, pos):
                pos, line = end.end(), line + 1
            break
        yield record


def _breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """Line breaks in text[start:end], CR LF counted once."""
    return text.count("\n", start, end) + text.count("\r", start, end) - text.count("\r\n", start, end)


def _csv(rows: Iterable[Sequence[str]]) -> str:
    return "".join(",".join(_cell(value) for value in row) + "\r\n" for row in rows)


def _cell(value: str) -> str:
    if _FORMULA.match(value):
        value = "'" + value
    return '"' + value.replace('"', '""') + '"' if _NEEDS_QUOTES.search(value) else value


# --- writing --------------------------------------------------------------------------------------------


def write_json(library: Library) -> bytes:
    """The library as our JSON export: pretty, keys in a fixed order, version 1."""
    document = {
        "version": 1,
        "prompts": [
            {
                "title": prompt.title,
                "text": prompt.text,
                "negative_prompt": prompt.negative_prompt,
                "category": prompt.category,
                "tags": list(prompt.tags),
                "favourite": prompt.favourite,
            }
            for prompt in library.prompts
        ],
        "styles": [
            {"name": s.name, "text": s.text, "negative_prompt": s.negative_prompt, "category": s.category}
            for s in library.styles
        ],
        "wildcards": [{"name": w.name, "entries": list(w.entries)} for w in library.wildcards],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def write_csv(prompts: Sequence[PromptEntry]) -> bytes:
    """Prompts as our CSV, with a BOM so that Excel reads it as UTF-8."""
    rows = [
        (p.title, p.text, p.negative_prompt, p.category, "; ".join(p.tags), "yes" if p.favourite else "no")
        for p in prompts
    ]
    return _UTF8_BOM + _csv([PROMPT_COLUMNS, *rows]).encode()


def write_a1111_styles(styles: Sequence[StyleEntry]) -> bytes:
    """Styles as A1111's styles.csv, categories left out; no BOM, so InvokeAI's import reads it too."""
    return _csv([STYLE_COLUMNS, *((s.name, s.text, s.negative_prompt) for s in styles)]).encode()


# --- styles ---------------------------------------------------------------------------------------------


def apply_style(prompt: str, style: StyleEntry, negative_prompt: str = "") -> tuple[str, str]:
    """The prompt and negative prompt with a style applied, as A1111 applies one."""
    return _merged(style.text, prompt), _merged(style.negative_prompt, negative_prompt)


def _merged(style: str, prompt: str) -> str:
    prompt = prompt.strip()
    if PLACEHOLDER not in style:
        return ", ".join(part for part in (prompt, style.strip()) if part)
    merged = style.replace(PLACEHOLDER, prompt)
    return merged if prompt else merged.strip(" ,")  # "{prompt}, film grain" alone: no leading comma
