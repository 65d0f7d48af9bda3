"""Wildcard lists: the named lists a template draws from with `__name__`, edited or imported as text."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from studio.adapters.db.models import WildcardList, utcnow
from studio.domain.prompts import entries_of, list_problems
from studio.errors import InvalidInput, NotFound
from studio.services.context import Services

MAX_LISTS = 200


@dataclass(frozen=True)
class ListView:
    id: uuid.UUID
    name: str
    entries: tuple[str, ...]


def lists(services: Services, owner_id: uuid.UUID) -> list[ListView]:
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(WildcardList).where(WildcardList.owner_id == owner_id).order_by(WildcardList.name)
        )
        return [ListView(row.id, row.name, tuple(row.entries)) for row in rows]


def lists_by_name(services: Services, owner_id: uuid.UUID) -> dict[str, list[str]]:
    """What a template of this owner's draws from."""
    return {item.name: list(item.entries) for item in lists(services, owner_id)}


def save(services: Services, owner_id: uuid.UUID, name: str, text: str) -> ListView:
    """Create or replace the list `name` with one entry a line of `text` (# comments left out)."""
    name, entries = name.strip(), entries_of(text)
    found = list_problems(name, entries)
    if found:
        raise InvalidInput(" ".join(found))
    with services.uow() as uow:
        row = uow.session.scalar(
            sa.select(WildcardList).where(WildcardList.owner_id == owner_id, WildcardList.name == name)
        )
        if row is None:
            count = uow.session.scalar(sa.select(sa.func.count()).where(WildcardList.owner_id == owner_id))
            if (count or 0) >= MAX_LISTS:
                raise InvalidInput(f"A library holds at most {MAX_LISTS} lists.")
            row = WildcardList(id=uuid.uuid4(), owner_id=owner_id, name=name)
            uow.session.add(row)
        row.entries = entries
        row.updated_at = utcnow()
        uow.commit()
        return ListView(row.id, row.name, tuple(row.entries))


def delete(services: Services, owner_id: uuid.UUID, list_id: uuid.UUID) -> None:
    with services.uow() as uow:
        row = uow.session.scalar(
            sa.select(WildcardList).where(WildcardList.id == list_id, WildcardList.owner_id == owner_id)
        )
        if row is None:
            raise NotFound("No such list.")
        uow.session.delete(row)
        uow.commit()
