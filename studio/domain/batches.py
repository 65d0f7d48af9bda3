"""Batches: the rows a batch is made of (a list of prompts, a CSV, a template's combinations, a seed grid,
a model × prompt matrix), the priorities, what each plan may run at once, and the ETA arithmetic.

A row is what differs from the batch's own parameters: a prompt, and maybe a negative prompt, a model, a
seed and parameters of its own. `request_for` makes a row into an ordinary generation request.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any

from studio.domain.catalogue import SEED_MAX, ModelSpec
from studio.domain.parameters import Request, carried_over
from studio.domain.plans import FREE

CSV_MAX_BYTES = 2 * 1024 * 1024
NAME_MAX_CHARS = 200
#: Columns of a CSV that are not parameters of the model.
CSV_COLUMNS = ("prompt", "negative_prompt", "model", "seed")


class Source(StrEnum):
    LINES = "lines"
    CSV = "csv"
    TEMPLATE = "template"
    SEEDS = "seeds"
    MATRIX = "matrix"


SOURCE_LABELS = {
    Source.LINES: "A prompt a line",
    Source.CSV: "CSV upload",
    Source.TEMPLATE: "Template (every combination)",
    Source.SEEDS: "Seed grid",
    Source.MATRIX: "Models × prompts",
}


class Priority(IntEnum):
    """Order within one person's own work; between people the fair queue takes turns whatever it is."""

    LOW = -1
    NORMAL = 0
    HIGH = 1
    NEXT = 2  # before everything else this person has waiting

    @property
    def label(self) -> str:
        return {-1: "Low", 0: "Normal", 1: "High", 2: "Run next"}[self.value]


@dataclass(frozen=True)
class Allowance:
    """What one plan may do with batches: jobs in one batch, and jobs at the provider at once."""

    batch_jobs: int
    slots: int


#: Slots: one person's jobs at the provider at once. The free plan gets 2, enough to keep a single person's
#: work flowing (one runs while the next is sent). Paid plans get more because their months hold 3-10x
#: the images: 4, 6 and 8 bring a Studio plan's 1,000 images through in the time a free plan takes for 250.
#: The caps only bound a share; with several people waiting, the queue takes turns between them anyway.
ALLOWANCES = {
    FREE: Allowance(batch_jobs=50, slots=2),
    "starter": Allowance(batch_jobs=200, slots=4),
    "pro": Allowance(batch_jobs=500, slots=6),
    "studio": Allowance(batch_jobs=1000, slots=8),
}


def allowance(plan_code: str | None) -> Allowance:
    return ALLOWANCES.get(plan_code or FREE, ALLOWANCES[FREE])


@dataclass(frozen=True)
class Row:
    """One job of a batch, as far as it differs from the batch's parameters."""

    prompt: str
    negative_prompt: str | None = None
    model: str | None = None
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"prompt": self.prompt}
        if self.negative_prompt is not None:
            data["negative_prompt"] = self.negative_prompt
        if self.model:
            data["model"] = self.model
        if self.seed is not None:
            data["seed"] = self.seed
        if self.params:
            data["params"] = dict(self.params)
        return data


class RowsError(ValueError):
    """Rows that cannot be read: each problem names its row."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def from_lines(text: str) -> list[Row]:
    """A prompt a line; blank lines are skipped."""
    return [Row(line.strip()) for line in text.splitlines() if line.strip()]


def _cell(value: str) -> Any:
    """A CSV cell as the value a parameter expects: a whole number, a number, true/false, or text."""
    text = value.strip()
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _seed(text: str, where: str, problems: list[str]) -> int | None:
    if not text.strip():
        return None
    try:
        seed = int(text.strip())
    except ValueError:
        problems.append(f"{where}: the seed {text.strip()[:40]!r} is not a whole number.")
        return None
    if not 0 <= seed <= SEED_MAX:
        problems.append(f"{where}: the seed must be between 0 and {SEED_MAX:,}.")
        return None
    return seed


def from_csv(data: bytes | str) -> list[Row]:
    """Rows from a CSV with a header: `prompt` (required) and any of negative_prompt, model, seed, then
    parameters of the model by name (num_images, image_size, guidance_scale, ...). RowsError lists every
    problem, by row (the header is line 1)."""
    if isinstance(data, bytes):
        if len(data) > CSV_MAX_BYTES:
            raise RowsError([f"The CSV is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB."])
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RowsError(["The file is not UTF-8 text: save it as CSV (UTF-8)."]) from None
    # csv.reader, not DictReader: DictReader skips blank lines without counting them, so every row after
    # one would be named a row too early. Here row N is the N-th record, blank ones included, as a
    # spreadsheet numbers them (a quoted cell that spans lines is still one row).
    reader = csv.reader(io.StringIO(data))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as err:
        raise RowsError([f"The CSV cannot be read: {err}."]) from None
    if "prompt" not in header:
        raise RowsError(["The CSV needs a header row with a `prompt` column."])
    if len(set(header)) != len(header):
        raise RowsError(["The CSV's header names a column twice."])
    rows: list[Row] = []
    problems: list[str] = []
    line = 1
    try:
        for line, record in enumerate(reader, start=2):
            if len(record) > len(header):
                problems.append(f"Row {line}: more cells than the header has columns.")
                continue
            cells = dict(zip(header, record, strict=False))
            if not any(value.strip() for value in cells.values()):
                continue
            where = f"Row {line}"
            prompt = cells.get("prompt", "").strip()
            if not prompt:
                problems.append(f"{where}: the prompt is empty.")
                continue
            negative = cells.get("negative_prompt", "").strip()
            params = {
                name: _cell(value)
                for name, value in cells.items()
                if name not in CSV_COLUMNS and name and value.strip()
            }
            rows.append(
                Row(
                    prompt,
                    negative or None,
                    cells.get("model", "").strip() or None,
                    _seed(cells.get("seed", ""), where, problems),
                    params,
                )
            )
    except csv.Error as err:
        problems.append(f"The CSV cannot be read past row {line}: {err}.")
    if problems:
        raise RowsError(problems)
    return rows


def seed_grid(prompt: str, first: int, count: int) -> list[Row]:
    """The same prompt with `count` seeds: first, first + 1, ... (a range of seeds)."""
    if count < 1:
        raise RowsError(["A seed grid needs at least one seed."])
    if not 0 <= first <= SEED_MAX - count + 1:
        raise RowsError([f"The seeds must stay between 0 and {SEED_MAX:,}."])
    return [Row(prompt, seed=first + index) for index in range(count)]


def matrix(prompts: list[str], models: list[str]) -> list[Row]:
    """Every prompt on every model, prompt by prompt (an A/B test of prompts or of models)."""
    return [Row(prompt, model=model) for prompt in prompts for model in models]


def request_for(base: Request, row: Row, spec: ModelSpec) -> Request:
    """The generation request of one row: the batch's parameters with the row's own on top. When the row
    runs another model than the batch's, only the batch's parameters that model takes carry over; the
    row's own must all be that model's."""
    carried = carried_over(base, spec)
    params = carried.params | row.params
    if row.seed is not None:
        params["seed"] = row.seed
    negative = carried.negative_prompt if row.negative_prompt is None else row.negative_prompt
    return replace(
        carried,
        prompt=row.prompt,
        negative_prompt=negative,
        params=params,
        template="",
        values={},
        pick_seed=None,
    )


def eta_seconds(waiting_ahead: int, slots: int, seconds_per_job: float) -> float:
    """When the last of `waiting_ahead` jobs ends, run `slots` at a time, each taking `seconds_per_job`."""
    if waiting_ahead <= 0:
        return 0.0
    return math.ceil(waiting_ahead / max(slots, 1)) * seconds_per_job


def eta_text(seconds: float | None) -> str:
    """An ETA in words: "about 40 s", "about 6 min", "about 2 h 10 min"."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "any moment"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"
