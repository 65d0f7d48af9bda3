"""The dashboard every signed-in person lands on: counts, newest images, favourites, projects, and what
happened lately (jobs and credit changes, newest first)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import CreditLedger, GenerationJob, Image, Project, User
from studio.domain.catalogue import BY_ENDPOINT
from studio.services.billing import usage
from studio.services.context import Services

THUMBS = 8


@dataclass(frozen=True)
class Thumb:
    id: uuid.UUID
    url: str
    prompt: str


@dataclass(frozen=True)
class ProjectCard:
    id: uuid.UUID
    name: str
    images: int
    created_at: datetime


@dataclass(frozen=True)
class Activity:
    at: datetime
    kind: str  # "job" or "credits"
    text: str
    detail: str


@dataclass(frozen=True)
class Dashboard:
    images: int
    favourites: int
    projects: int
    jobs: int
    credits_used: int  # this cycle, net of refunds
    credits_left: int
    recent: list[Thumb]
    favourite_images: list[Thumb]
    recent_projects: list[ProjectCard]
    activity: list[Activity]

    @property
    def is_new(self) -> bool:
        return self.jobs == 0


def _count(session: sa.orm.Session, query: sa.Select[tuple[int]]) -> int:
    return int(session.scalar(query) or 0)


def dashboard(services: Services, user_id: uuid.UUID, feed: int = 12) -> Dashboard:
    """What the dashboard shows for this account."""
    cycle = usage.usage(services, user_id, history_limit=0)
    files = services.files
    with services.uow() as uow:
        session = uow.session
        live = sa.and_(Image.owner_id == user_id, Image.deleted_at.is_(None))
        count = sa.select(sa.func.count())
        images = _count(session, count.select_from(Image).where(live))
        favourites = _count(session, count.select_from(Image).where(live, Image.is_favourite))
        projects = _count(
            session,
            count.select_from(Project).where(Project.owner_id == user_id, Project.archived_at.is_(None)),
        )
        jobs = _count(session, count.select_from(GenerationJob).where(GenerationJob.owner_id == user_id))

        def thumbs(*where: Any) -> list[Thumb]:
            rows = session.scalars(
                sa.select(Image).where(live, *where).order_by(Image.created_at.desc()).limit(THUMBS)
            )
            return [Thumb(i.id, files.url(i.thumb_key or i.storage_key), i.prompt) for i in rows]

        recent, favourite_images = thumbs(), thumbs(Image.is_favourite)
        project_rows = session.execute(
            sa.select(Project.id, Project.name, Project.created_at, sa.func.count(Image.id))
            .outerjoin(Image, (Image.project_id == Project.id) & Image.deleted_at.is_(None))
            .where(Project.owner_id == user_id, Project.archived_at.is_(None))
            .group_by(Project.id, Project.name, Project.created_at)
            .order_by(Project.created_at.desc())
            .limit(5)
        )
        recent_projects = [ProjectCard(pid, name, int(n), at) for pid, name, at, n in project_rows]
        activity = [
            Activity(
                job.created_at,
                "job",
                f"{job.status.capitalize()} · {_model(job.model_endpoint)}",
                job.error_message or job.prompt,
            )
            for job in session.scalars(
                sa.select(GenerationJob)
                .where(GenerationJob.owner_id == user_id)
                .order_by(GenerationJob.created_at.desc())
                .limit(feed)
            )
        ] + [
            Activity(row.created_at, "credits", f"{row.delta:+,} credits", row.reason)
            for row in session.scalars(
                sa.select(CreditLedger)
                .where(CreditLedger.user_id == user_id)
                .order_by(CreditLedger.created_at.desc())
                .limit(feed)
            )
        ]
        balance = _count(session, sa.select(User.credit_balance).where(User.id == user_id))
    activity.sort(key=lambda item: item.at, reverse=True)
    return Dashboard(
        images=images,
        favourites=favourites,
        projects=projects,
        jobs=jobs,
        credits_used=cycle.used if cycle else 0,
        credits_left=balance,
        recent=recent,
        favourite_images=favourite_images,
        recent_projects=recent_projects,
        activity=activity[:feed],
    )


def _model(endpoint: str) -> str:
    spec = BY_ENDPOINT.get(endpoint)
    return spec.name if spec else endpoint
