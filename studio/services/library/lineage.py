"""Lineage: what an image was made from, what was made from it, and its whole family as a tree.

Every output of an operation records its parent image and the operation (`studio.services.generation.
iterate`); this reads those links back, only ever among the owner's own images, with what changed at each
step (`studio.domain.iteration.changes`). A family is bounded (FAMILY_LIMIT images) and read a generation
at a time with one indexed query each (`images.parent_image_id`), so a family of hundreds stays fast.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Image
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.generation import operation_label
from studio.domain.iteration import Change, Facts, changes
from studio.services.context import Services
from studio.services.library.gallery import owned_image

FAMILY_LIMIT = 500
_MAX_DEPTH = 200  # hops up to the root; a longer chain is cut there (the image shown stays in it)


@dataclass(frozen=True)
class FamilyNode:
    id: uuid.UUID
    parent_id: uuid.UUID | None  # None for the root (or a parent in the trash)
    thumb_url: str
    label: str  # the operation, e.g. "Upscale 4×"
    changes: list[Change]  # from its parent
    prompt: str


@dataclass(frozen=True)
class Family:
    root_id: uuid.UUID
    nodes: list[FamilyNode]  # the root first, then a generation at a time, oldest first
    truncated: bool  # more than FAMILY_LIMIT images: the rest are not shown


def model_name(endpoint: str) -> str:
    if endpoint == "upload":
        return "upload"
    spec = BY_ENDPOINT.get(endpoint)
    return spec.name if spec else endpoint


_TOOLS = ("upscale", "remove_background")


def facts(image: Image) -> Facts:
    return Facts(
        image.prompt,
        image.seed,
        model_name(image.model_endpoint),
        image.width,
        image.height,
        image.params,
        tool=image.operation in _TOOLS,
    )


def step_label(image: Image) -> str:
    """The operation that made the image, with the detail that names it (an upscale's factor)."""
    label = operation_label(image.operation)
    factor = image.params.get("upscale_factor") if image.operation == "upscale" else None
    if isinstance(factor, int | float):
        label = f"{label} {factor:g}×"
    return label


def diff(parent: Image | None, child: Image) -> list[Change]:
    return changes(facts(parent), facts(child)) if parent is not None else []


def _visible(owner_id: uuid.UUID) -> list[sa.ColumnElement[bool]]:
    return [Image.owner_id == owner_id, Image.deleted_at.is_(None)]


def _root(session: Session, owner_id: uuid.UUID, image: Image) -> Image:
    current, seen = image, {image.id}
    for _ in range(_MAX_DEPTH):
        if current.parent_image_id is None or current.parent_image_id in seen:
            break
        parent = session.scalar(
            sa.select(Image).where(Image.id == current.parent_image_id, *_visible(owner_id))
        )
        if parent is None:
            break
        seen.add(parent.id)
        current = parent
    return current


def family(services: Services, owner_id: uuid.UUID, image_id: uuid.UUID) -> Family:
    """The family of one of the owner's images: its root and every descendant, with each step's diff."""
    with services.uow() as uow:
        session = uow.session
        image = owned_image(session, owner_id, image_id)
        root = _root(session, owner_id, image)
        members: list[Image] = [root]
        by_id = {root.id: root}
        frontier = [root.id]
        truncated = False
        while frontier and not truncated:
            children = session.scalars(
                sa.select(Image)
                .where(Image.parent_image_id.in_(frontier), *_visible(owner_id))
                .order_by(Image.created_at, Image.id)
                .limit(FAMILY_LIMIT - len(members) + 1)
            ).all()
            fresh = [child for child in children if child.id not in by_id]
            if len(members) + len(fresh) > FAMILY_LIMIT:
                fresh, truncated = fresh[: FAMILY_LIMIT - len(members)], True
            for child in fresh:
                by_id[child.id] = child
            members.extend(fresh)
            frontier = [child.id for child in fresh]
        files = services.files
        nodes = [
            FamilyNode(
                id=member.id,
                parent_id=member.parent_image_id if member is not root else None,
                thumb_url=files.url(member.thumb_key or member.storage_key),
                label=step_label(member),
                changes=diff(by_id.get(member.parent_image_id) if member.parent_image_id else None, member),
                prompt=member.prompt,
            )
            for member in members
        ]
        return Family(root.id, nodes, truncated)
