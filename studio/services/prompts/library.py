"""Saved prompts: create, edit, duplicate, delete, favourite, search; publish to the public library.

Everything is the owner's own, found by owner; a public prompt is read by anyone signed in and copied into
their own library, never edited by them. An admin can take a public prompt down (audited).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Prompt, User, utcnow
from studio.domain.library import fts5_query, search_words
from studio.domain.prompts import PromptForm, Sort, problems
from studio.domain.templates import has_syntax
from studio.errors import Forbidden, InvalidInput, NotFound
from studio.services import audit
from studio.services.context import Services

PAGE_LIMIT = 200


@dataclass(frozen=True)
class PromptView:
    id: uuid.UUID
    title: str
    text: str
    negative_prompt: str
    category: str
    tags: tuple[str, ...]
    favourite: bool
    use_count: int
    is_public: bool
    is_template: bool
    created_at: datetime
    updated_at: datetime
    author: str = ""  # on the public library: who published it


@dataclass(frozen=True)
class PromptQuery:
    search: str = ""
    category: str = ""
    tag: str = ""
    favourites: bool = False
    sort: Sort = Sort.RECENT


def _view(row: Prompt, author: str = "") -> PromptView:
    return PromptView(
        row.id,
        row.title or "",
        row.text,
        row.negative_prompt or "",
        row.category,
        tuple(row.tags),
        row.is_starred,
        row.use_count,
        row.is_public,
        has_syntax(row.text),
        row.created_at,
        row.updated_at,
        author,
    )


def _checked(form: PromptForm) -> PromptForm:
    found = problems(form)
    if found:
        raise InvalidInput(" ".join(found))
    return form


def _fill(row: Prompt, form: PromptForm) -> None:
    row.title = form.title.strip()
    row.text = form.text.strip()
    row.text_hash = hashlib.sha256(row.text.encode()).hexdigest()
    row.negative_prompt = form.negative_prompt.strip() or None
    row.category = form.category.strip()
    row.tags = list(form.tags)
    row.is_starred = form.favourite


def _owned(session: Session, owner_id: uuid.UUID, prompt_id: uuid.UUID) -> Prompt:
    row = session.scalar(sa.select(Prompt).where(Prompt.id == prompt_id, Prompt.owner_id == owner_id))
    if row is None:
        raise NotFound("No such prompt.")
    return row


def new_row(owner_id: uuid.UUID, form: PromptForm) -> Prompt:
    """A new library row of a checked form, for a transaction that adds several (an import)."""
    row = Prompt(id=uuid.uuid4(), owner_id=owner_id, use_count=0)
    _fill(row, _checked(form))
    return row


def create(services: Services, owner_id: uuid.UUID, form: PromptForm) -> PromptView:
    with services.uow() as uow:
        row = new_row(owner_id, form)
        uow.session.add(row)
        uow.commit()
        return _view(row)


def update(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID, form: PromptForm) -> PromptView:
    _checked(form)
    with services.uow() as uow:
        row = _owned(uow.session, owner_id, prompt_id)
        _fill(row, form)
        row.updated_at = utcnow()
        row.unpublished_by = None  # edited since an admin took it down: it may be published again
        uow.commit()
        return _view(row)


def duplicate(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID) -> PromptView:
    with services.uow() as uow:
        row = _owned(uow.session, owner_id, prompt_id)
        form = PromptForm(
            f"{row.title} (copy)"[:200], row.text, row.negative_prompt or "", row.category, tuple(row.tags)
        )
    return create(services, owner_id, form)


def delete(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID) -> None:
    with services.uow() as uow:
        uow.session.delete(_owned(uow.session, owner_id, prompt_id))
        uow.commit()


def set_favourite(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID, favourite: bool) -> None:
    with services.uow() as uow:
        _owned(uow.session, owner_id, prompt_id).is_starred = favourite
        uow.commit()


def get(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID) -> PromptView:
    with services.uow() as uow:
        return _view(_owned(uow.session, owner_id, prompt_id))


def record_use(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID) -> None:
    """The prompt was used on Generate: one more use, now."""
    with services.uow() as uow:
        uow.session.execute(
            sa.update(Prompt)
            .where(Prompt.id == prompt_id, Prompt.owner_id == owner_id)
            .values(use_count=Prompt.use_count + 1, last_used_at=utcnow())
        )
        uow.commit()


def _search(session: Session, words: list[str]) -> sa.ColumnElement[bool]:
    """Prompts whose title or text holds every word (stemmed): the GIN index or the FTS5 table."""
    if session.get_bind().dialect.name == "postgresql":
        config: sa.ColumnElement[Any] = sa.literal_column("'english'::regconfig")
        document = sa.func.coalesce(Prompt.title, "") + " " + Prompt.text
        return sa.func.to_tsvector(config, document).op("@@")(
            sa.func.plainto_tsquery(config, " ".join(words))
        )
    matches: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("prompts_fts"))
        .where(sa.literal_column("prompts_fts").op("MATCH")(fts5_query(words)))
    )
    return sa.literal_column("prompts.rowid").in_(matches)


def _ordered(query: sa.Select[Any], sort: Sort) -> sa.Select[Any]:
    if sort is Sort.MOST_USED:
        return query.order_by(Prompt.use_count.desc(), Prompt.updated_at.desc(), Prompt.id)
    if sort is Sort.NAME:
        return query.order_by(sa.func.lower(Prompt.title), Prompt.id)
    return query.order_by(Prompt.updated_at.desc(), Prompt.id.desc())


def prompts(services: Services, owner_id: uuid.UUID, query: PromptQuery = PromptQuery()) -> list[PromptView]:
    """The owner's prompts matching the query (at most PAGE_LIMIT), in its order."""
    with services.uow() as uow:
        session = uow.session
        select = sa.select(Prompt).where(Prompt.owner_id == owner_id)
        words = search_words(query.search)
        if words:
            select = select.where(_search(session, words))
        if query.category:
            select = select.where(Prompt.category == query.category)
        if query.favourites:
            select = select.where(Prompt.is_starred)
        rows = session.scalars(
            _ordered(select, query.sort).limit(PAGE_LIMIT * 4 if query.tag else PAGE_LIMIT)
        )
        found = [_view(row) for row in rows if not query.tag or query.tag in row.tags]
        return found[:PAGE_LIMIT]


def categories_and_tags(services: Services, owner_id: uuid.UUID) -> tuple[list[str], list[str]]:
    with services.uow() as uow:
        rows = uow.session.execute(sa.select(Prompt.category, Prompt.tags).where(Prompt.owner_id == owner_id))
        categories: set[str] = set()
        tags: set[str] = set()
        for category, row_tags in rows:
            if category:
                categories.add(category)
            tags.update(row_tags or [])
    return sorted(categories), sorted(tags)


# --- the public library ---------------------------------------------------------------------------------


def publish(services: Services, owner_id: uuid.UUID, prompt_id: uuid.UUID, public: bool) -> None:
    """Share the prompt with everyone signed in, or take it back."""
    with services.uow() as uow:
        row = _owned(uow.session, owner_id, prompt_id)
        if public and row.unpublished_by is not None:
            raise Forbidden("An administrator took this prompt down; edit it before you publish it again.")
        row.is_public = public
        row.published_at = utcnow() if public else None
        if public:
            row.unpublished_by = None
        uow.commit()


def public_prompts(services: Services, search: str = "", sort: Sort = Sort.RECENT) -> list[PromptView]:
    """The public library, as anyone signed in browses it (the author named)."""
    with services.uow() as uow:
        session = uow.session
        select = (
            sa.select(Prompt, User.name)
            .join(User, User.id == Prompt.owner_id)
            .where(Prompt.is_public, User.deleted_at.is_(None))
        )
        words = search_words(search)
        if words:
            select = select.where(_search(session, words))
        if sort is Sort.RECENT:
            select = select.order_by(Prompt.published_at.desc(), Prompt.id.desc())
        else:
            select = _ordered(select, sort)
        return [_view(row, author) for row, author in session.execute(select.limit(PAGE_LIMIT))]


def copy_public(services: Services, viewer_id: uuid.UUID, prompt_id: uuid.UUID) -> PromptView:
    """A public prompt copied into the viewer's own library."""
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(Prompt).where(Prompt.id == prompt_id, Prompt.is_public))
        if row is None:
            raise NotFound("No such public prompt.")
        form = PromptForm(
            row.title or "Untitled", row.text, row.negative_prompt or "", row.category, tuple(row.tags)
        )
    return create(services, viewer_id, form)


def unpublish(services: Services, admin_id: uuid.UUID, prompt_id: uuid.UUID, reason: str) -> None:
    """An admin takes a public prompt down (the owner keeps it, private)."""
    if not reason.strip():
        raise InvalidInput("Say why the prompt is taken down: its owner sees the reason in the audit log.")
    with services.uow() as uow:
        audit.check_admin(uow.session, admin_id)
        row = uow.session.get(Prompt, prompt_id)
        if row is None or not row.is_public:
            raise NotFound("No such public prompt.")
        row.is_public = False
        row.unpublished_by = admin_id
        audit.audit(
            uow.session,
            admin_id,
            "prompt.unpublish",
            "prompt",
            prompt_id,
            before={"public": True, "owner": str(row.owner_id)},
            after={"public": False},
            reason=reason.strip()[:500],
        )
        uow.commit()
