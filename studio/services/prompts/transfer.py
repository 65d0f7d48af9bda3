"""The library in and out of files: JSON (everything), CSV (prompts), A1111's styles.csv (styles), and
imports of those, InvokeAI's preset CSV and plain-text wildcard lists (`studio.domain.prompt_files`).

An import takes everything valid in one transaction, or nothing: rows the file gets wrong, and prompts,
styles or lists whose names the library already holds, are refused and reported before anything is
written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from studio.adapters.db.models import Prompt, StyleModifier, WildcardList
from studio.domain.prompt_files import (
    Library,
    PromptEntry,
    Refused,
    StyleEntry,
    read_library,
    write_a1111_styles,
    write_csv,
    write_json,
)
from studio.domain.prompt_files import WildcardList as ListEntry
from studio.domain.prompts import Modifier, PromptForm
from studio.domain.prompts import problems as prompt_problems
from studio.errors import InvalidInput
from studio.services.context import Services
from studio.services.prompts import library, styles, wildcards

T = TypeVar("T")


@dataclass(frozen=True)
class Imported:
    """What an import took and what it refused (with where in the file and why)."""

    format: str
    prompts: int
    styles: int
    lists: int
    refused: tuple[Refused, ...]


def _library(services: Services, owner_id: uuid.UUID) -> Library:
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(Prompt).where(Prompt.owner_id == owner_id).order_by(Prompt.created_at)
        )
        prompts = tuple(
            PromptEntry(
                row.title or "Untitled",
                row.text,
                row.negative_prompt or "",
                row.category,
                tuple(row.tags),
                row.is_starred,
            )
            for row in rows
        )
    mine = [view.modifier for view in styles.modifiers(services, owner_id) if view.mine]
    return Library(
        prompts,
        tuple(StyleEntry(m.name, m.text, m.negative_prompt, m.category) for m in mine),
        tuple(ListEntry(item.name, item.entries) for item in wildcards.lists(services, owner_id)),
    )


def export_json(services: Services, owner_id: uuid.UUID) -> bytes:
    return write_json(_library(services, owner_id))


def export_csv(services: Services, owner_id: uuid.UUID) -> bytes:
    return write_csv(_library(services, owner_id).prompts)


def export_styles(services: Services, owner_id: uuid.UUID) -> bytes:
    return write_a1111_styles(_library(services, owner_id).styles)


def _new(
    items: tuple[T, ...], name: Callable[[T], str], have: set[str], what: str, refused: list[Refused]
) -> list[T]:
    """The items whose names the library does not hold yet; the others refused, by name."""
    kept = []
    have = {known.lower() for known in have}
    for item in items:
        if name(item).lower() in have:
            refused.append(Refused(0, f"{what} {name(item)!r} is in your library already"))
        else:
            kept.append(item)
    return kept


def import_file(services: Services, owner_id: uuid.UUID, data: bytes, filename: str) -> Imported:
    """Read a file into the owner's library: all of what is valid and new, in one transaction."""
    report = read_library(data, filename)
    refused = list(report.refused)
    found = report.library
    forms = []
    for entry in found.prompts:
        form = PromptForm(
            entry.title, entry.text, entry.negative_prompt, entry.category, entry.tags, entry.favourite
        )
        problems = prompt_problems(form)
        if problems:
            refused.append(Refused(0, f"{entry.title!r}: {' '.join(problems)}"))
        else:
            forms.append(form)
    with services.uow() as uow:
        session = uow.session
        titles = {
            t or "" for t in session.scalars(sa.select(Prompt.title).where(Prompt.owner_id == owner_id))
        }
        style_names = set(
            session.scalars(sa.select(StyleModifier.name).where(StyleModifier.owner_id == owner_id))
        )
        list_names = set(
            session.scalars(sa.select(WildcardList.name).where(WildcardList.owner_id == owner_id))
        )
        new_prompts = _new(tuple(forms), lambda form: form.title.strip(), titles, "a prompt titled", refused)
        new_styles = _new(found.styles, lambda style: style.name, style_names, "a style named", refused)
        new_lists = _new(found.wildcards, lambda item: item.name, list_names, "a list named", refused)
        for form in new_prompts:
            session.add(library.new_row(owner_id, form))
        added_styles = 0
        for style in new_styles:
            modifier = Modifier(style.name, style.text, style.category or "Mine", style.negative_prompt)
            try:
                session.add(styles.new_row(owner_id, modifier))
                added_styles += 1
            except InvalidInput as err:  # the studio's own limits on a style are tighter than the file's
                refused.append(Refused(0, f"the style {style.name!r}: {err}"))
        for item in new_lists:
            session.add(
                WildcardList(id=uuid.uuid4(), owner_id=owner_id, name=item.name, entries=list(item.entries))
            )
        uow.commit()
    return Imported(report.format, len(new_prompts), added_styles, len(new_lists), tuple(refused))
