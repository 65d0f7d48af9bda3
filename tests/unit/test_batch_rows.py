"""The rows of a batch (studio/domain/batches.py): a prompt a line, a CSV read row by row, a seed grid, a
model × prompt matrix, a row made into a request, the plans' allowances and the ETA arithmetic."""

from __future__ import annotations

import pytest

from studio.domain.batches import (
    ALLOWANCES,
    CSV_MAX_BYTES,
    Priority,
    Row,
    RowsError,
    allowance,
    eta_seconds,
    eta_text,
    from_csv,
    from_lines,
    matrix,
    request_for,
    seed_grid,
)
from studio.domain.catalogue import BY_ENDPOINT, SEED_MAX
from studio.domain.parameters import Request

DEV, ULTRA, SCHNELL = "fal-ai/flux/dev", "fal-ai/flux-pro/v1.1-ultra", "fal-ai/flux/schnell"


def problems(data: bytes | str) -> list[str]:
    with pytest.raises(RowsError) as caught:
        from_csv(data)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def test_a_prompt_a_line_skips_blank_lines_and_trims() -> None:
    assert from_lines("  a red fox \n\n   \nan owl\r\n") == [Row("a red fox"), Row("an owl")]
    assert from_lines("") == []


def test_a_csv_gives_one_row_per_record_with_typed_parameters() -> None:
    data = (
        "\ufeffprompt,negative_prompt,model,seed,num_images,guidance_scale,enable_safety_checker,image_size\n"
        "a red fox,blurry,fal-ai/flux/dev,42,2,3.5,false,square\n"
        '"an owl, at night",,,,,,,\n'
        ",,,,,,,\n"  # an empty record is skipped, not an error
    ).encode()
    assert from_csv(data) == [
        Row(
            "a red fox",
            negative_prompt="blurry",
            model=DEV,
            seed=42,
            params={
                "num_images": 2,
                "guidance_scale": 3.5,
                "enable_safety_checker": False,
                "image_size": "square",
            },
        ),
        Row("an owl, at night"),
    ]
    assert from_csv("prompt\nfox\n") == [Row("fox")]  # text as well as bytes
    assert from_csv(b"prompt,seed\nfox\n") == [Row("fox")]  # a short record: the missing cells are empty


def test_a_csv_names_every_bad_row_by_its_number() -> None:
    data = (
        b"prompt,seed\n"  # row 1
        b"a fox,1\n"  # 2
        b",7\n"  # 3: no prompt
        b"an owl,seven\n"  # 4
        b"a deer,-1\n"  # 5
        b"a hare,1,extra\n"  # 6
        b"\n"  # 7: blank, still a row of the file
        b"a crow,4294967296\n"  # 8
    )
    assert problems(data) == [
        "Row 3: the prompt is empty.",
        "Row 4: the seed 'seven' is not a whole number.",
        f"Row 5: the seed must be between 0 and {SEED_MAX:,}.",
        "Row 6: more cells than the header has columns.",
        f"Row 8: the seed must be between 0 and {SEED_MAX:,}.",
    ]


def test_a_quoted_cell_over_two_lines_is_one_row() -> None:
    assert problems(b'prompt,seed\n"a fox\nin snow",1\nan owl,x\n') == [
        "Row 3: the seed 'x' is not a whole number."
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfep\x00r\x00", "The file is not UTF-8 text: save it as CSV (UTF-8)."),
        (b"caption,seed\nfox,1\n", "The CSV needs a header row with a `prompt` column."),
        (b"", "The CSV needs a header row with a `prompt` column."),
        (b"prompt,prompt\nfox,owl\n", "The CSV's header names a column twice."),
        (b"prompt\n" + b"x" * CSV_MAX_BYTES, "The CSV is larger than 2 MB."),
    ],
    ids=["not-utf8", "no-prompt-column", "empty", "duplicate-column", "oversized"],
)
def test_a_csv_that_cannot_be_read_says_why(data: bytes, message: str) -> None:
    assert problems(data) == [message]


def test_a_seed_grid_is_one_prompt_with_consecutive_seeds() -> None:
    assert seed_grid("a fox", 10, 3) == [Row("a fox", seed=10), Row("a fox", seed=11), Row("a fox", seed=12)]
    assert seed_grid("a fox", SEED_MAX, 1) == [Row("a fox", seed=SEED_MAX)]
    with pytest.raises(RowsError, match="at least one seed"):
        seed_grid("a fox", 0, 0)
    with pytest.raises(RowsError, match="between 0 and"):
        seed_grid("a fox", SEED_MAX, 2)
    with pytest.raises(RowsError, match="between 0 and"):
        seed_grid("a fox", -1, 2)


def test_a_matrix_runs_every_prompt_on_every_model_prompt_by_prompt() -> None:
    assert matrix(["fox", "owl"], [DEV, ULTRA]) == [
        Row("fox", model=DEV),
        Row("fox", model=ULTRA),
        Row("owl", model=DEV),
        Row("owl", model=ULTRA),
    ]
    assert matrix([], [DEV]) == []


def test_a_row_becomes_the_batch_request_with_its_own_values_on_top() -> None:
    base = Request(
        DEV,
        "ignored",
        negative_prompt="blurry",
        params={"image_size": "square", "guidance_scale": 5.0, "num_images": 2},
        template="a {fox|owl}",
        values={"x": "y"},
        pick_seed=3,
    )
    same = request_for(base, Row("a fox", seed=9, params={"num_images": 1}), BY_ENDPOINT[DEV])
    assert same.model == DEV
    assert same.prompt == "a fox"
    assert same.params == {"image_size": "square", "guidance_scale": 5.0, "num_images": 1, "seed": 9}
    # A row is a prompt of its own: the batch's template does not come along.
    assert (same.template, same.values, same.pick_seed) == ("", {}, None)
    # Another model keeps only the batch's parameters it accepts (ultra takes no image_size nor guidance),
    # and a row's own negative prompt wins over the batch's.
    other = request_for(base, Row("an owl", model=ULTRA, params={"raw": True}), BY_ENDPOINT[ULTRA])
    assert other.model == ULTRA
    assert other.params == {"num_images": 2, "raw": True}
    assert other.negative_prompt == ""  # ultra has no negative prompt
    sdxl = BY_ENDPOINT["fal-ai/fast-sdxl"]
    assert request_for(base, Row("a deer"), sdxl).negative_prompt == "blurry"
    assert request_for(base, Row("a deer", negative_prompt="dark"), sdxl).negative_prompt == "dark"


def test_rows_keep_only_what_they_set_in_json() -> None:
    assert Row("fox").to_json() == {"prompt": "fox"}
    assert Row("fox", "dark", DEV, 0, {"num_images": 2}).to_json() == {
        "prompt": "fox",
        "negative_prompt": "dark",
        "model": DEV,
        "seed": 0,
        "params": {"num_images": 2},
    }


def test_priorities_and_allowances() -> None:
    assert sorted(Priority, reverse=True) == [Priority.NEXT, Priority.HIGH, Priority.NORMAL, Priority.LOW]
    assert [p.label for p in Priority] == ["Low", "Normal", "High", "Run next"]
    assert allowance("free") == allowance(None) == allowance("no-such-plan") == ALLOWANCES["free"]
    assert (allowance("free").batch_jobs, allowance("free").slots) == (50, 2)
    slots = [allowance(code).slots for code in ("free", "starter", "pro", "studio")]
    assert slots == sorted(slots)
    jobs = [allowance(code).batch_jobs for code in ("free", "starter", "pro", "studio")]
    assert jobs == [50, 200, 500, 1000]


@pytest.mark.parametrize(
    ("ahead", "slots", "each", "seconds"),
    [(0, 2, 5.0, 0.0), (-3, 2, 5.0, 0.0), (1, 2, 5.0, 5.0), (2, 2, 5.0, 5.0), (3, 2, 5.0, 10.0),
     (10, 4, 1.5, 4.5), (3, 0, 2.0, 6.0)],
)  # fmt: skip
def test_eta_is_whole_rounds_of_slots(ahead: int, slots: int, each: float, seconds: float) -> None:
    assert eta_seconds(ahead, slots, each) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "unknown"), (0.0, "any moment"), (0.4, "any moment"), (1.2, "about 1 s"), (40, "about 40 s"),
     (89.4, "about 89 s"), (90, "about 2 min"), (360, "about 6 min"), (89 * 60, "about 89 min"),
     (90 * 60, "about 1 h 30 min"), (130 * 60, "about 2 h 10 min")],
)  # fmt: skip
def test_eta_in_words(seconds: float | None, text: str) -> None:
    assert eta_text(seconds) == text
