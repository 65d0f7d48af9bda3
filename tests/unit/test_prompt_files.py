"""Prompt library files in and out: our JSON and CSV, A1111's styles.csv, InvokeAI's prompt templates and
.txt wildcard lists; the rows refused and why; the limits; round trips; CSV injection; applying a style.
Pure functions over bytes: no services."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from studio.domain.prompt_files import (
    MAX_FILE_BYTES,
    MAX_LISTS,
    MAX_PROMPTS,
    MAX_STYLES,
    STYLE_COLUMNS,
    ImportReport,
    Library,
    PromptEntry,
    Refused,
    StyleEntry,
    StylesFormat,
    WildcardList,
    apply_style,
    read_library,
    write_a1111_styles,
    write_csv,
    write_json,
)
from studio.domain.prompts import LIST_MAX_ENTRIES
from studio.errors import InvalidInput

TAG_CHARACTERS = "letters, digits, spaces, dots, dashes or plus signs"


def read(text: str | bytes, filename: str, styles_format: StylesFormat | None = None) -> ImportReport:
    return read_library(
        text.encode() if isinstance(text, str) else text, filename, styles_format=styles_format
    )


def reasons(report: ImportReport) -> list[str]:
    return [refused.reason for refused in report.refused]


def cells(data: bytes) -> list[list[str]]:
    """What Python's csv module (and so A1111, InvokeAI, a spreadsheet) reads in a CSV we wrote."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), skipinitialspace=True))


# --- samples as the tools write them --------------------------------------------------------------------

# A1111 writes styles.csv with csv.DictWriter: UTF-8 with a BOM, CRLF, quotes only where needed.
A1111_STYLES = (
    "\ufeffname,prompt,negative_prompt\r\n"
    'Cinematic,"cinematic still of {prompt} . emotional, harmonious, vignette, highly detailed, bokeh,'
    ' film grain","anime, cartoon, graphic, text, painting, crayon, graphite, abstract"\r\n'
    'Neon Noir,"neon noir {prompt} . cyberpunk, dark, rainy streets, neon signs,\r\n'
    'high contrast, low light, vibrant","bright, sunny, daytime"\r\n'
    'Quality,"masterpiece, best quality, ""ultra"" detailed",\r\n'
    'Negative only,,"lowres, bad anatomy, bad hands"\r\n'
)
# InvokeAI's GET /api/v1/style_presets/export: csv.writer, CRLF, no BOM, "prompt_templates.csv".
INVOKEAI_EXPORT = (
    "name,prompt,negative_prompt\r\n"
    'Photography (General),"{prompt}. photography. f/2.8 macro photo, bokeh, photorealism",'
    '"painting, digital art. sketch, blurry"\r\n'
    'Line Art,{prompt} Line art. bold outline. simplistic. white background. 2d,"photo. digital art."\r\n'
)
# InvokeAI's default presets file and its import both hold a JSON list.
INVOKEAI_JSON = [
    {
        "name": "Sketch",
        "type": "default",
        "preset_data": {"positive_prompt": "{prompt} pencil drawing", "negative_prompt": "blurry, photo"},
    },
    {"name": "Anime", "prompt": "{prompt} anime++, bold outline", "negative_prompt": ""},
]
OUR_CSV = (
    "name,prompt,negative_prompt,category,tags,favourite\r\n"
    'Sunset,"golden sunset over the sea, {warm|cool} light",blurry,Landscape,"Sea; golden hour",yes\r\n'
    'Portrait of __person__,"portrait of __person__, 85mm",,Portraits,"portrait, 85mm, portrait",no\r\n'
    "Formula,\"'=1+1 is not run\",'-ugly,,,\r\n"
)
OUR_JSON = {
    "version": 1,
    "prompts": [
        {
            "title": "Sunset",
            "text": "golden sunset over the sea, {warm|cool} light",
            "negative_prompt": "blurry",
            "category": "Landscape",
            "tags": ["sea", "golden hour"],
            "favourite": True,
        }
    ],
    "styles": [{"name": "Film", "text": "{prompt}, 35mm film", "negative_prompt": "", "category": "Camera"}],
    "wildcards": [{"name": "colours/warm", "entries": ["red", "orange", "amber"]}],
}


def test_an_a1111_styles_csv_with_a_bom_and_values_over_several_lines() -> None:
    report = read(A1111_STYLES, "styles.csv")
    assert report.format == "a1111"
    assert report.refused == ()
    cinematic, noir, quality, negative_only = report.library.styles
    assert cinematic.text.startswith("cinematic still of {prompt} . emotional, harmonious")
    assert cinematic.negative_prompt == "anime, cartoon, graphic, text, painting, crayon, graphite, abstract"
    assert cinematic.name == "Cinematic"  # the BOM is not part of the first column's name
    assert noir.text == (
        "neon noir {prompt} . cyberpunk, dark, rainy streets, neon signs,\nhigh contrast, low light, vibrant"
    )
    assert quality == StyleEntry("Quality", 'masterpiece, best quality, "ultra" detailed')
    assert negative_only == StyleEntry("Negative only", "", "lowres, bad anatomy, bad hands")


def test_a1111_rows_are_numbered_as_a_spreadsheet_counts_them_with_the_editor_line_beside() -> None:
    broken = A1111_STYLES + "Nothing,,\r\n"
    report = read(broken, "styles.csv")
    assert len(report.library.styles) == 4
    assert report.refused == (
        Refused(6, "row 6 (line 7): the style 'Nothing' has neither a prompt nor a negative prompt"),
    )


def test_the_old_a1111_name_text_columns_and_spaces_after_commas() -> None:
    report = read('name, text\nOld, "a, b"\n', "styles.csv")
    assert report.library.styles == (StyleEntry("Old", "a, b"),)


def test_an_invokeai_prompt_template_export() -> None:
    report = read(INVOKEAI_EXPORT, "prompt_templates.csv")
    assert report.format == "invokeai"
    assert report.library.styles == (
        StyleEntry(
            "Photography (General)",
            "{prompt}. photography. f/2.8 macro photo, bokeh, photorealism",
            "painting, digital art. sketch, blurry",
        ),
        StyleEntry(
            "Line Art",
            "{prompt} Line art. bold outline. simplistic. white background. 2d",
            "photo. digital art.",
        ),
    )


@pytest.mark.parametrize(
    ("text", "filename", "styles_format", "expected"),
    [
        (INVOKEAI_EXPORT, "styles.csv", None, "a1111"),  # the same columns: styles.csv is A1111's
        (INVOKEAI_EXPORT, "my styles.csv", None, "a1111"),
        (INVOKEAI_EXPORT, "prompt_templates (2).csv", None, "invokeai"),
        (INVOKEAI_EXPORT, "styles.csv", "invokeai", "invokeai"),  # the caller says
        (A1111_STYLES, "prompt_templates.csv", "a1111", "a1111"),
        ("name,positive_prompt,negative_prompt\nX,{prompt} x,\n", "styles.csv", None, "invokeai"),
    ],
)
def test_which_style_format_a_three_column_csv_is(
    text: str, filename: str, styles_format: StylesFormat | None, expected: str
) -> None:
    report = read(text, filename, styles_format)
    assert report.format == expected
    assert report.library.styles
    assert report.refused == ()


def test_an_invokeai_json_list_of_presets() -> None:
    report = read(json.dumps(INVOKEAI_JSON), "presets.json")
    assert report.format == "invokeai"
    assert report.library.styles == (
        StyleEntry("Sketch", "{prompt} pencil drawing", "blurry, photo"),
        StyleEntry("Anime", "{prompt} anime++, bold outline"),
    )


def test_our_csv() -> None:
    report = read(OUR_CSV, "prompts.csv")
    assert report.format == "csv"
    assert report.refused == ()
    assert report.library.prompts == (
        PromptEntry(
            "Sunset",
            "golden sunset over the sea, {warm|cool} light",
            "blurry",
            "Landscape",
            ("sea", "golden hour"),
            favourite=True,
        ),
        PromptEntry(
            "Portrait of __person__", "portrait of __person__, 85mm", "", "Portraits", ("portrait", "85mm")
        ),
        PromptEntry("Formula", "=1+1 is not run", "-ugly"),  # the apostrophes a spreadsheet needs come off
    )


def test_our_json() -> None:
    report = read(json.dumps(OUR_JSON), "library.json")
    assert report.format == "json"
    assert report.refused == ()
    assert report.library == Library(
        (
            PromptEntry(
                "Sunset",
                "golden sunset over the sea, {warm|cool} light",
                "blurry",
                "Landscape",
                ("sea", "golden hour"),
                True,
            ),
        ),
        (StyleEntry("Film", "{prompt}, 35mm film", category="Camera"),),
        (WildcardList("colours/warm", ("red", "orange", "amber")),),
    )


def test_a_wildcard_list_named_after_its_file() -> None:
    text = (
        "# warm colours\r\nred\r\n\r\n  orange  \r\n{light|dark} amber\r\n#ff0000 is a comment too\r\nred\r\n"
    )
    report = read(text, "C:\\fakepath\\colours.txt")
    assert report.format == "wildcards"
    assert report.refused == ()
    assert report.library.wildcards == (
        WildcardList("colours", ("red", "orange", "{light|dark} amber", "red")),
    )


def test_a_wildcard_entry_too_long_is_refused_by_its_line_and_the_rest_kept() -> None:
    report = read("red\n\n" + "x" * 501 + "\rblue", "colours.txt")
    assert report.library.wildcards == (WildcardList("colours", ("red", "blue")),)
    assert report.refused == (Refused(3, "line 3: the entry is 501 characters long; at most 500 fit"),)


@pytest.mark.parametrize(
    ("text", "filename", "expected"),
    [
        ('{"a": 1}\n["b"]\n', "colours.txt", "wildcards"),  # a .txt is a list, whatever its lines look like
        ("name,prompt\nred,blue\n", "colours.txt", "wildcards"),
        ("{red|blue}\n{big|small}\n", "colours", "wildcards"),  # no extension, not JSON: a list
        (json.dumps(OUR_JSON), "export", "json"),  # the content decides
        (json.dumps(OUR_JSON), "export.dat", "json"),
        (OUR_CSV, "export", "csv"),
        (A1111_STYLES, "styles.txt.bak", "a1111"),
    ],
)
def test_the_content_decides_the_format_and_the_extension_hints(
    text: str, filename: str, expected: str
) -> None:
    report = read(text, filename)
    assert report.format == expected
    assert report.refused == ()


@pytest.mark.parametrize(
    ("text", "filename", "reason"),
    [
        ("red\nblue\n", "notes.md", "'notes.md' is not a file we read"),
        ("colours:\n  - red\n", "colours.yaml", "YAML wildcard files are not read here"),
        ("red\n", "colours (1).txt", "the list name 'colours (1)' is not 1 to 64 letters, digits, _ - or /"),
        ("# only a comment\n\n", "colours.txt", "The file has no entries"),
        ('{"version": 1,\n "prompts": [}', "library.json", "not valid JSON: Expecting value at line 2"),
        ("[" * 100_000, "library.json", "nested too deeply"),
        (
            '{"prompts": []}',
            "library.json",
            'not a studio prompt library export: that is an object with "version": 1',
        ),
        ('{"version": true}', "library.json", "not a studio prompt library export"),
        ('{"version": 2}', "library.json", "comes from a newer studio (version 2)"),
        ('"just a string"', "library.json", "not a studio prompt library export"),
        ('{"version": 1, "prompts": {}}', "library.json", '"prompts" must be a list'),
        ("title,words\nA,b\n", "prompts.csv", "The first row must name the columns"),
        ("name,prompt,prompt,tags\nA,b,c,\n", "prompts.csv", "Two columns are both 'prompt'"),
        ("\n,,\n", "prompts.csv", "The file has no rows to read"),
        ("", "prompts.csv", "The file has no rows to read"),
    ],
)
def test_a_file_refused_as_a_whole_gives_nothing(text: str, filename: str, reason: str) -> None:
    report = read(text, filename)
    assert report.library == Library()
    assert [refused.line for refused in report.refused] == [0]
    assert reason in report.refused[0].reason


# --- rows refused -----------------------------------------------------------------------------------------


def test_each_bad_row_of_our_csv_is_refused_by_number_and_the_good_ones_kept() -> None:
    text = (
        "name,prompt,negative_prompt,category,tags,favourite\n"
        "Sunset,golden sunset,,,,\n"  # row 2
        ",a prompt with no title,,,,\n"
        "Empty,,,,,\n"
        '"Two lines","line one\nline two",,,,\n'  # row 5, lines 5 and 6
        "SUNSET,again,,,,\n"
        "Fav,x,,,,maybe\n"
        'Tags,x,,,"fine; not/fine",\n'
        "Commas,a,b,c,d,no,extra\n"
        f"Long,{'x' * 2001},,,,\n"
        f"Many tags,x,,,{';'.join(f't{i}' for i in range(21))},\n"
    )
    report = read(text, "prompts.csv")
    assert [entry.title for entry in report.library.prompts] == ["Sunset", "Two lines"]
    assert report.library.prompts[1].text == "line one\nline two"
    assert report.refused == (
        Refused(3, "row 3: the title is empty"),
        Refused(4, "row 4: the prompt is empty"),
        Refused(6, "row 6 (line 7): a second prompt titled 'SUNSET' (the first is row 2)"),
        Refused(7, "row 7 (line 8): favourite must be yes or no, not 'maybe'"),
        Refused(8, f"row 8 (line 9): the tag 'not/fine' is not 1 to 64 {TAG_CHARACTERS}"),
        Refused(9, "row 9 (line 10): 7 values under 6 columns (a value with a comma needs quotes)"),
        Refused(10, "row 10 (line 11): the prompt is 2,001 characters long; at most 2,000 fit"),
        Refused(11, "row 11 (line 12): 21 tags; a prompt has at most 20"),
    )


def test_a_quote_that_never_closes_stops_the_reading_where_it_opens() -> None:
    text = 'name,prompt,negative_prompt\nFirst,one,\nSecond,"two,\nThird,three,\n'
    report = read(text, "styles.csv")
    assert report.library.styles == (StyleEntry("First", "one"),)
    assert report.refused == (
        Refused(3, "row 3: a quote opens here and never closes; the rest was not read"),
    )


def test_columns_we_do_not_read_are_named_once_and_blank_rows_are_skipped_but_counted() -> None:
    text = "name,prompt,negative_prompt,description,\n\n,,,,\nNoir,neon noir,,moody and dark,\nBad,,,,\n"
    report = read(text, "styles.csv")
    assert report.library.styles == (StyleEntry("Noir", "neon noir"),)
    assert report.refused == (
        Refused(1, "row 1: 'description' left out: not a column we read"),
        Refused(5, "row 5: the style 'Bad' has neither a prompt nor a negative prompt"),
    )


def test_json_items_are_refused_by_their_place_in_their_list() -> None:
    document = {
        "version": 1,
        "exported_at": "2026-12-01",
        "prompts": [
            {"title": "Fine", "text": "a fox"},
            {"title": "No text"},
            {"title": "Tags as text", "text": "x", "tags": "a, b"},
            "not an object",
            {"title": "fine", "text": "again", "rating": 5},
        ],
        "styles": [{"name": "Film", "text": "{prompt}, film, {prompt}"}, {"name": 7, "text": "x"}],
        "wildcards": [
            {"name": "colours", "entries": ["red", "x" * 501, 3, "blue"]},
            {"name": "bad name!", "entries": ["a"]},
            {"name": "empty", "entries": []},
        ],
    }
    report = read(json.dumps(document), "library.json")
    assert report.library == Library(
        (PromptEntry("Fine", "a fox"),), (), (WildcardList("colours", ("red", "blue")),)
    )
    assert reasons(report) == [
        "'exported_at' left out: not part of a version 1 export",
        "prompt 2: the prompt is missing",
        "prompt 3: the tags must be a list",
        "prompt 4: expected an object, not str",
        "prompt 5: a second prompt titled 'fine' (the first is prompt 1)",
        "style 1: the style 'Film' holds {prompt} more than once",
        "style 2: the name must be text, not int",
        "list 1, entry 2: the entry is 501 characters long; at most 500 fit",
        "list 1, entry 3: the entry must be text, not int",
        "list 2: the list name 'bad name!' is not 1 to 64 letters, digits, _ - or /",
        "list 3: the list 'empty' has no entries",
        "prompts: 'rating' left out: not part of a version 1 export",
    ]
    assert [refused.line for refused in report.refused] == [0, 2, 3, 4, 5, 1, 2, 1, 1, 2, 3, 0]


def test_a_second_style_or_list_of_the_same_name_is_refused() -> None:
    document = {
        "version": 1,
        "styles": [{"name": "Noir", "text": "a"}, {"name": "noir", "text": "b"}],
        "wildcards": [{"name": "c", "entries": ["a"]}, {"name": "c", "entries": ["b"]}],
    }
    report = read(json.dumps(document), "library.json")
    assert report.library == Library((), (StyleEntry("Noir", "a"),), (WildcardList("c", ("a",)),))
    assert reasons(report) == [
        "style 2: a second style named 'noir' (the first is style 1)",
        "list 2: a second list named 'c' (the first is list 1)",
    ]


# --- limits and encodings ---------------------------------------------------------------------------------


def test_a_file_of_exactly_5_mb_is_read_and_one_byte_more_is_refused() -> None:
    document = b'{"version": 1}'
    assert read(document + b" " * (MAX_FILE_BYTES - len(document)), "library.json").refused == ()
    report = read(document + b" " * (MAX_FILE_BYTES - len(document) + 1), "library.json")
    assert report.library == Library()
    assert report.refused == (
        Refused(0, "The file is over 5 MB (5,242,881 bytes): split it and import the parts."),
    )


def prompt_rows(count: int) -> str:
    return "name,prompt,negative_prompt,category,tags,favourite\n" + "".join(
        f"P{i},p,,,,\n" for i in range(count)
    )


def style_rows(count: int) -> str:
    return "name,prompt,negative_prompt\n" + "".join(f"S{i},s,\n" for i in range(count))


def test_at_most_5000_prompts_and_1000_styles_a_file() -> None:
    assert len(read(prompt_rows(MAX_PROMPTS), "prompts.csv").library.prompts) == MAX_PROMPTS
    assert len(read(style_rows(MAX_STYLES), "styles.csv").library.styles) == MAX_STYLES
    too_many = read(prompt_rows(MAX_PROMPTS + 1), "prompts.csv")
    assert too_many.library == Library()
    assert reasons(too_many) == ["The file has over 5,000 prompts: import at most 5,000 at a time."]
    assert reasons(read(style_rows(MAX_STYLES + 1), "styles.csv")) == [
        "The file has over 1,000 styles: import at most 1,000 at a time."
    ]


@pytest.mark.parametrize(
    ("key", "count", "item"),
    [
        ("prompts", MAX_PROMPTS, {"title": "t", "text": "x"}),
        ("styles", MAX_STYLES, {"name": "s", "text": "x"}),
        ("wildcards", MAX_LISTS, {"name": "l", "entries": ["x"]}),
    ],
)
def test_a_json_file_over_a_limit_is_refused_whole(key: str, count: int, item: dict[str, object]) -> None:
    report = read(json.dumps({"version": 1, key: [item] * (count + 1)}), "library.json")
    assert report.library == Library()
    assert reasons(report) == [f"The file has {count + 1:,} {key}; import at most {count:,} at a time."]


def test_at_most_10000_entries_a_list() -> None:
    entries = [f"entry {i}" for i in range(LIST_MAX_ENTRIES)]
    assert read("\n".join(entries), "many.txt").library.wildcards == (WildcardList("many", tuple(entries)),)
    report = read("\n".join([*entries, "one more"]), "many.txt")
    assert report.library == Library()
    assert reasons(report) == ["The list has over 10,000 entries: at most 10,000 fit."]


def test_a_huge_file_is_read_quickly_or_refused_early() -> None:
    assert reasons(read(",\n" * 2_000_000, "styles.csv")) == ["The file has no rows to read."]
    assert reasons(read("a," * 2_000_000, "styles.csv")) == ["row 1: over 64 values; the rest was not read"]
    assert reasons(read("\n" * MAX_FILE_BYTES, "colours.txt"))[0].startswith("The file has no entries")


@pytest.mark.parametrize("filename", ["library.json", "prompts.csv", "colours.txt"])
def test_a_utf8_bom_is_not_part_of_the_content(filename: str) -> None:
    content = {"library.json": json.dumps(OUR_JSON), "prompts.csv": OUR_CSV, "colours.txt": "red\nblue\n"}
    with_bom = read(b"\xef\xbb\xbf" + content[filename].encode(), filename)
    assert with_bom == read(content[filename], filename)
    assert with_bom.refused == ()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            "name,prompt,negative_prompt\nCafé,crème brûlée,\n".encode("cp1252"),
            "The file is not UTF-8: line 2 has a byte (0xE9) UTF-8 cannot have. Save it as UTF-8 (in Excel:"
            " “CSV UTF-8”) and import it again.",
        ),
        (
            "name,prompt\nA,b\n".encode("utf-16"),
            "The file is saved as UTF-16: save it as UTF-8 and import it again.",
        ),
        (
            b"name,prompt\nA,b\x00\n",
            "The file holds NUL characters, so it is not UTF-8 text: save it as UTF-8.",
        ),
    ],
)
def test_text_not_in_utf8_is_refused_with_what_to_do(data: bytes, reason: str) -> None:
    assert read(data, "styles.csv") == ImportReport(Library(), (Refused(0, reason),), "unknown")


# --- the entries ----------------------------------------------------------------------------------------


def test_entries_are_normalised_when_built() -> None:
    entry = PromptEntry(
        "  Sunset\tat sea\n", " one\r\ntwo\r ", " blurry ", " Landscape ", ("Sea", " sea ", "Golden  Hour")
    )
    assert entry == PromptEntry("Sunset at sea", "one\ntwo", "blurry", "Landscape", ("sea", "golden hour"))
    assert WildcardList(" colours ", [" red ", "blue"]) == WildcardList("colours", ("red", "blue"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: PromptEntry(" ", "x"), "the title is empty"),
        (lambda: PromptEntry("t" * 201, "x"), "the title is 201 characters long; at most 200 fit"),
        (lambda: PromptEntry("T", "a\x07b"), "the prompt contains the control character U+0007"),
        (lambda: PromptEntry("T", "\ud800"), "the prompt contains the control character U+D800"),
        (
            lambda: PromptEntry("T", "x", negative_prompt="n" * 1001),
            "the negative prompt is 1,001 characters",
        ),
        (lambda: PromptEntry("T", "x", category="c" * 65), "the category is 65 characters long; at most 64"),
        (lambda: PromptEntry("T", "x", tags=("a", "b;c")), "the tag 'b;c' is not 1 to 64 letters"),
        (lambda: PromptEntry("T", "x", favourite="yes"), "favourite must be true or false"),  # type: ignore[arg-type]
        (lambda: PromptEntry("T", 3), "the prompt must be text, not int"),  # type: ignore[arg-type]
        (lambda: StyleEntry("S", " ", " "), "the style 'S' has neither a prompt nor a negative prompt"),
        (lambda: StyleEntry("s" * 65, "x"), "the name is 65 characters long; at most 64 fit"),
        (lambda: WildcardList("a b", ("x",)), "the list name 'a b' is not 1 to 64 letters, digits, _ - or /"),
        (lambda: WildcardList("a", ("x", " ")), "the entry is empty"),
        (lambda: WildcardList("a", "xyz"), "the entries must be a list"),  # type: ignore[arg-type]
    ],
)
def test_an_entry_that_cannot_be_built_says_why(build: Callable[[], object], reason: str) -> None:
    with pytest.raises(InvalidInput, match="^" + re.escape(reason)):
        build()


# --- writing and round trips ----------------------------------------------------------------------------

TRICKY = [
    "a, b, c",
    'say "cheese"',
    "line one\nline two",
    "élan, 東京, 🙂",
    "{prompt}, film grain",
    "{a|b} with __colours__",
    "=SUM(A1:A9)",
    "+1 more",
    "-ugly",
    "@home",
    "'=already quoted",
    "''-two apostrophes",
    "# not a comment",
    '"',
    '""',
    ",",
    "a;b",
    "trailing\\",
]


@pytest.mark.parametrize("value", TRICKY)
def test_our_csv_and_json_give_back_exactly_what_they_were_given(value: str) -> None:
    prompt = PromptEntry(value, value, value, value.replace("\n", " "), ("a", "b c"), favourite=True)
    library = Library((prompt,), (StyleEntry(value.replace("\n", " ")[:64], value, value, "c"),), ())
    assert read(write_csv([prompt]), "prompts.csv") == ImportReport(Library((prompt,)), (), "csv")
    assert read(write_json(library), "library.json") == ImportReport(library, (), "json")


@pytest.mark.parametrize("value", [value for value in TRICKY if value[0] not in "=+-@'"])
def test_a1111_styles_give_back_what_they_were_given_but_the_category(value: str) -> None:
    style = StyleEntry(value.replace("\n", " "), value, value, category="lost: A1111 has no category")
    report = read(write_a1111_styles([style]), "styles.csv")
    assert report == ImportReport(Library((), (StyleEntry(style.name, value, value),)), (), "a1111")


def test_csv_injection_cells_are_prefixed_with_an_apostrophe() -> None:
    dangerous = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "'=x"]
    written = cells(write_csv([PromptEntry(f"T{i}", value) for i, value in enumerate(dangerous)]))
    assert [row[1] for row in written[1:]] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "''=x"]
    styles = cells(write_a1111_styles([StyleEntry("Minus", "-ugly", "=bad")]))
    assert styles[1] == ["Minus", "'-ugly", "'=bad"]
    # A1111 and InvokeAI read the apostrophe as part of the text, so reading their files keeps it
    assert read(write_a1111_styles([StyleEntry("Minus", "-ugly")]), "styles.csv").library.styles == (
        StyleEntry("Minus", "'-ugly"),
    )


def test_our_csv_has_a_bom_crlf_rows_and_the_columns_in_order() -> None:
    data = write_csv([PromptEntry("Sunset", "a, b", tags=("sea", "sky"), favourite=True)])
    assert data.startswith(b"\xef\xbb\xbfname,prompt,negative_prompt,category,tags,favourite\r\n")
    assert data.endswith(b'\r\nSunset,"a, b",,,sea; sky,yes\r\n')


def test_a1111_styles_read_the_way_a1111_and_invokeai_read_them() -> None:
    styles = [StyleEntry("Neon", "neon {prompt},\nwet streets", 'no "daylight"'), StyleEntry("Plain", "x")]
    data = write_a1111_styles(styles)
    assert not data.startswith(b"\xef\xbb\xbf")  # InvokeAI decodes with "utf-8": a BOM would rename "name"
    a1111 = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), skipinitialspace=True)
    assert [dict(row) for row in a1111] == [
        {"name": "Neon", "prompt": "neon {prompt},\nwet streets", "negative_prompt": 'no "daylight"'},
        {"name": "Plain", "prompt": "x", "negative_prompt": ""},
    ]


def test_json_is_pretty_in_a_fixed_order_and_keeps_unicode() -> None:
    library = Library((PromptEntry("Café", "crème", tags=("b", "a")),), (), (WildcardList("c", ("x",)),))
    data = write_json(library)
    assert data == write_json(library)
    assert data.endswith(b"}\n")
    assert "Café".encode() in data
    document = json.loads(data)
    assert list(document) == ["version", "prompts", "styles", "wildcards"]
    assert document["version"] == 1
    assert list(document["prompts"][0]) == [
        "title",
        "text",
        "negative_prompt",
        "category",
        "tags",
        "favourite",
    ]
    assert data.startswith(b'{\n  "version": 1,\n  "prompts": [\n    {\n      "title": "Caf')


_CHAR = st.one_of(
    st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from(list("\r\n\t,;\"'=+-@#{}|_ "))
)
_TAG = st.from_regex(r"[a-zé0-9][a-zé0-9 .+-]{0,12}", fullmatch=True)


@st.composite
def prompt_entries(draw: st.DrawFn) -> PromptEntry:
    try:
        return PromptEntry(
            draw(st.text(_CHAR, min_size=1, max_size=30)),
            draw(st.text(_CHAR, min_size=1, max_size=80)),
            draw(st.text(_CHAR, max_size=40)),
            draw(st.text(_CHAR, max_size=20)),
            tuple(draw(st.lists(_TAG, max_size=5))),
            draw(st.booleans()),
        )
    except InvalidInput:
        reject()


@st.composite
def style_entries(draw: st.DrawFn, category: bool = True) -> StyleEntry:
    try:
        return StyleEntry(
            draw(st.text(_CHAR, min_size=1, max_size=30)),
            draw(st.text(_CHAR, max_size=80)),
            draw(st.text(_CHAR, max_size=40)),
            draw(st.text(_CHAR, max_size=20)) if category else "",
        )
    except InvalidInput:
        reject()


_LISTS = st.builds(
    WildcardList,
    st.from_regex(r"[A-Za-z0-9_\-/]{1,20}", fullmatch=True),
    st.lists(st.text(_CHAR, max_size=20).filter(str.strip), min_size=1, max_size=5).map(tuple),
)


@settings(deadline=None)
@given(
    st.lists(prompt_entries(), max_size=6, unique_by=lambda entry: entry.title.casefold()),
    st.lists(style_entries(), max_size=4, unique_by=lambda entry: entry.name.casefold()),
    st.lists(_LISTS, max_size=3, unique_by=lambda entry: entry.name.casefold()),
)
def test_any_library_comes_back_from_json_and_its_prompts_from_csv(
    prompts: list[PromptEntry], styles: list[StyleEntry], lists: list[WildcardList]
) -> None:
    library = Library(tuple(prompts), tuple(styles), tuple(lists))
    assert read(write_json(library), "library.json") == ImportReport(library, (), "json")
    assert read(write_csv(prompts), "prompts.csv") == ImportReport(Library(tuple(prompts)), (), "csv")


FORMULA = re.compile(r"'*[=+\-@\t\r]")  # a cell a spreadsheet would run, behind any apostrophes


def guarded(value: str) -> str:
    return "'" + value if FORMULA.match(value) else value


def _plain(style: StyleEntry) -> bool:
    """A1111 takes a cell as it is, apostrophe and all: our guard against formulas cannot come off again."""
    return not any(FORMULA.match(value) for value in (style.name, style.text, style.negative_prompt))


@settings(deadline=None)
@given(
    st.lists(style_entries(category=False).filter(_plain), max_size=5, unique_by=lambda s: s.name.casefold())
)
def test_styles_without_a_category_come_back_from_a1111_styles(styles: list[StyleEntry]) -> None:
    report = read(write_a1111_styles(styles), "styles.csv")
    assert report == ImportReport(Library((), tuple(styles)), (), "a1111")


@settings(deadline=None)
@given(
    st.lists(st.lists(st.text(_CHAR, max_size=30), min_size=1, max_size=4), max_size=6),
    st.booleans(),
    st.sampled_from(["\r\n", "\n"]),
)
def test_a_csv_written_by_pythons_csv_module_reads_as_the_csv_module_reads_it(
    rows: list[list[str]], quote_all: bool, terminator: str
) -> None:
    out = io.StringIO()
    writer = (
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=terminator)
        if quote_all
        else csv.writer(out, lineterminator=terminator)
    )
    writer.writerows([list(STYLE_COLUMNS), *rows])
    styles: dict[str, StyleEntry] = {}  # what read_library makes of the records the csv module reads
    for record in list(csv.reader(io.StringIO(out.getvalue(), newline=""), skipinitialspace=True))[1:]:
        if not any(value.strip() for value in record) or len(record) > len(STYLE_COLUMNS):
            continue  # a blank row is skipped, a row of too many values refused
        name, text, negative = [*record, "", ""][:3]
        try:
            style = StyleEntry(name, text, negative)
        except InvalidInput:
            continue  # refused
        styles.setdefault(style.name.casefold(), style)  # a second of the same name is refused
    assert read(out.getvalue(), "styles.csv").library.styles == tuple(styles.values())


@settings(deadline=None)
@given(st.lists(prompt_entries(), max_size=5))
def test_what_we_write_the_csv_module_reads_cell_for_cell(prompts: list[PromptEntry]) -> None:
    rows = cells(write_csv(prompts))
    assert rows == [
        ["name", "prompt", "negative_prompt", "category", "tags", "favourite"],
        *(
            [
                guarded(p.title),
                guarded(p.text),
                guarded(p.negative_prompt),
                guarded(p.category),
                "; ".join(p.tags),
                "yes" if p.favourite else "no",
            ]
            for p in prompts
        ),
    ]
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row)


# --- styles ---------------------------------------------------------------------------------------------

CINEMATIC = StyleEntry("Cinematic", "cinematic still of {prompt}, film grain", "cartoon, {prompt}")
QUALITY = StyleEntry("Quality", "masterpiece, best quality", "lowres, blurry")
WRAP = StyleEntry("Wrap", "{prompt}, 35mm film")
NEGATIVE_ONLY = StyleEntry("Clean", "", "watermark, text")


@pytest.mark.parametrize(
    ("prompt", "negative", "style", "expected"),
    [
        ("a fox", "", CINEMATIC, ("cinematic still of a fox, film grain", "cartoon")),
        ("a fox", "extra legs", CINEMATIC, ("cinematic still of a fox, film grain", "cartoon, extra legs")),
        ("a fox", "", QUALITY, ("a fox, masterpiece, best quality", "lowres, blurry")),
        (
            "  a fox  ",
            "extra legs",
            QUALITY,
            ("a fox, masterpiece, best quality", "extra legs, lowres, blurry"),
        ),
        ("", "", QUALITY, ("masterpiece, best quality", "lowres, blurry")),
        ("", "", WRAP, ("35mm film", "")),  # no leading comma when there is no prompt
        ("a fox", "blurry", NEGATIVE_ONLY, ("a fox", "blurry, watermark, text")),
    ],
)
def test_apply_style_wraps_the_prompt_or_follows_it_after_a_comma(
    prompt: str, negative: str, style: StyleEntry, expected: tuple[str, str]
) -> None:
    assert apply_style(prompt, style, negative) == expected
