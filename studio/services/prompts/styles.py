"""Style modifiers and quality boosters: the quick-add chips of Generate.

The studio's own (no owner) are seeded from `studio.domain.prompts.DEFAULT_MODIFIERS` on start; admins
switch them on or off and add more; every user adds their own, which only they see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from studio.adapters.db.models import StyleModifier
from studio.domain.catalogue import NEGATIVE_PROMPT_MAX_CHARS
from studio.domain.prompts import CATEGORY_MAX_CHARS, DEFAULT_MODIFIERS, Modifier
from studio.errors import InvalidInput, NotFound
from studio.services import audit
from studio.services.context import Services

NAME_MAX_CHARS = 64
TEXT_MAX_CHARS = 500


@dataclass(frozen=True)
class StyleView:
    id: uuid.UUID
    modifier: Modifier
    mine: bool  # the user's own (else the studio's)
    enabled: bool


def sync_defaults(services: Services) -> int:
    """Insert the studio's modifiers that are missing (an admin's changes to existing ones stay)."""
    with services.uow() as uow:
        have = set(uow.session.scalars(sa.select(StyleModifier.name).where(StyleModifier.owner_id.is_(None))))
        added = 0
        for order, modifier in enumerate(DEFAULT_MODIFIERS):
            if modifier.name not in have:
                uow.session.add(_row(None, modifier, order))
                added += 1
        uow.commit()
    return added


def new_row(owner_id: uuid.UUID, modifier: Modifier) -> StyleModifier:
    """A new style of the user's own, checked, for a transaction that adds several (an import)."""
    return _row(owner_id, _checked(modifier), 1000)


def _row(owner_id: uuid.UUID | None, modifier: Modifier, order: int) -> StyleModifier:
    return StyleModifier(
        id=uuid.uuid4(),
        owner_id=owner_id,
        name=modifier.name,
        text=modifier.text,
        negative_prompt=modifier.negative_prompt,
        category=modifier.category,
        sort_order=order,
    )


def _view(row: StyleModifier, owner_id: uuid.UUID | None) -> StyleView:
    modifier = Modifier(row.name, row.text, row.category, row.negative_prompt)
    return StyleView(row.id, modifier, row.owner_id is not None and row.owner_id == owner_id, row.is_enabled)


def modifiers(services: Services, owner_id: uuid.UUID, *, all_studio: bool = False) -> list[StyleView]:
    """The studio's enabled modifiers (every one with `all_studio`, for admins), then the user's own."""
    with services.uow() as uow:
        condition = sa.or_(StyleModifier.owner_id.is_(None), StyleModifier.owner_id == owner_id)
        rows = uow.session.scalars(
            sa.select(StyleModifier)
            .where(condition)
            .order_by(StyleModifier.owner_id.is_not(None), StyleModifier.sort_order, StyleModifier.name)
        )
        return [_view(row, owner_id) for row in rows if row.is_enabled or all_studio or row.owner_id]


def _checked(modifier: Modifier) -> Modifier:
    name, text = modifier.name.strip(), modifier.text.strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise InvalidInput(f"A style's name is 1 to {NAME_MAX_CHARS} characters.")
    if not 1 <= len(text) <= TEXT_MAX_CHARS:
        raise InvalidInput(f"A style's text is 1 to {TEXT_MAX_CHARS} characters.")
    if text.count("{prompt}") > 1:
        raise InvalidInput("A style holds {prompt} at most once: where the prompt goes.")
    if (
        len(modifier.negative_prompt) > NEGATIVE_PROMPT_MAX_CHARS
        or len(modifier.category) > CATEGORY_MAX_CHARS
    ):
        raise InvalidInput("The style's negative prompt or category is too long.")
    return Modifier(name, text, modifier.category.strip() or "Mine", modifier.negative_prompt.strip())


def add(services: Services, owner_id: uuid.UUID, modifier: Modifier) -> StyleView:
    """A style modifier of the user's own."""
    checked = _checked(modifier)
    with services.uow() as uow:
        taken = uow.session.scalar(
            sa.select(StyleModifier.id).where(
                StyleModifier.owner_id == owner_id, StyleModifier.name == checked.name
            )
        )
        if taken is not None:
            raise InvalidInput(f"You have a style named {checked.name!r} already.")
        row = new_row(owner_id, checked)
        uow.session.add(row)
        uow.commit()
        return _view(row, owner_id)


def delete(services: Services, owner_id: uuid.UUID, style_id: uuid.UUID) -> None:
    with services.uow() as uow:
        row = uow.session.scalar(
            sa.select(StyleModifier).where(StyleModifier.id == style_id, StyleModifier.owner_id == owner_id)
        )
        if row is None:
            raise NotFound("No such style of yours.")
        uow.session.delete(row)
        uow.commit()


def add_studio_style(services: Services, admin_id: uuid.UUID, modifier: Modifier) -> StyleView:
    """An admin adds a modifier everyone sees."""
    checked = _checked(modifier)
    with services.uow() as uow:
        audit.check_admin(uow.session, admin_id)
        taken = uow.session.scalar(
            sa.select(StyleModifier.id).where(
                StyleModifier.owner_id.is_(None), StyleModifier.name == checked.name
            )
        )
        if taken is not None:
            raise InvalidInput(f"The studio has a style named {checked.name!r} already.")
        row = _row(None, checked, 500)
        uow.session.add(row)
        uow.session.flush()
        audit.audit(uow.session, admin_id, "style.add", "style", row.id, after={"name": checked.name})
        uow.commit()
        return _view(row, None)


def set_studio_style_enabled(
    services: Services, admin_id: uuid.UUID, style_id: uuid.UUID, enabled: bool
) -> None:
    with services.uow() as uow:
        audit.check_admin(uow.session, admin_id)
        row = uow.session.scalar(
            sa.select(StyleModifier).where(StyleModifier.id == style_id, StyleModifier.owner_id.is_(None))
        )
        if row is None:
            raise NotFound("No such studio style.")
        before = row.is_enabled
        row.is_enabled = enabled
        audit.audit(
            uow.session,
            admin_id,
            "style.enable" if enabled else "style.disable",
            "style",
            style_id,
            before={"enabled": before},
            after={"enabled": enabled},
        )
        uow.commit()
