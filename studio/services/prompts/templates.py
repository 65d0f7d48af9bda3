"""Templates as the person uses them: with their own wildcard lists, counted before anything runs, expanded
with a pick seed the job keeps (the same seed makes the same prompt)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace

from studio.domain import templates
from studio.domain.parameters import Request
from studio.domain.templates import TemplateError, Variable
from studio.errors import InvalidInput
from studio.services.context import Services
from studio.services.prompts import wildcards

PICK_SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Preview:
    variables: list[Variable]  # the fields the form shows
    count: int  # how many distinct prompts the template makes
    example: str  # the prompt a first pick makes
    error: str = ""  # what is wrong, by position (then the rest is empty)


def preview(
    services: Services, owner_id: uuid.UUID, text: str, values: dict[str, str], pick_seed: int = 0
) -> Preview:
    """What a template makes, for the form: its variables, its count and one expansion; an error names the
    position."""
    try:
        parsed = templates.parse(text)
        found = templates.variables(parsed)
    except TemplateError as err:
        return Preview([], 0, "", str(err))
    # A variable not filled in yet shows as [name] in the example, so the fields come first.
    shown = {v.name: values.get(v.name) or v.default or f"[{v.name}]" for v in found} | {
        name: value for name, value in values.items() if value
    }
    try:
        lists = wildcards.lists_by_name(services, owner_id)
        count = templates.count(parsed, lists, shown)
        example = templates.expand_random(parsed, lists, shown, seed=pick_seed, n=1)[0]
    except TemplateError as err:
        return Preview(found, 0, "", str(err))
    return Preview(found, count, example)


def expand(services: Services, owner_id: uuid.UUID, request: Request) -> Request:
    """The request with its template expanded into the prompt, and the pick seed it used (chosen here
    when the request has none, so the job replays exactly); InvalidInput names what is wrong."""
    if not request.template:
        return request
    seed = request.pick_seed if request.pick_seed is not None else secrets.randbelow(PICK_SEED_MAX + 1)
    try:
        parsed = templates.parse(request.template)
        lists = wildcards.lists_by_name(services, owner_id)
        (prompt,) = templates.expand_random(parsed, lists, request.values, seed=seed, n=1)
    except TemplateError as err:
        raise InvalidInput(f"The template cannot be expanded: {err}") from None
    return replace(request, prompt=prompt, pick_seed=seed)
