"""Prompt history: every prompt the user has run, from their jobs, with how many images it made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.context import Services

LIMIT = 100


@dataclass(frozen=True)
class HistoryRow:
    prompt: str  # the prompt as run (a template's expansion)
    runs: int
    images: int  # made by its succeeded jobs
    last_used_at: datetime
    request: Request  # the latest job's, for "use again" (the template, if it came from one)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def history(
    services: Services, owner_id: uuid.UUID, search: str = "", limit: int = LIMIT
) -> list[HistoryRow]:
    """The owner's distinct prompts, the most recently run first (at most `limit`); `search` keeps those
    containing it (case-insensitive)."""
    succeeded = GenerationJob.status == JobStatus.SUCCEEDED.value
    query = (
        sa.select(
            GenerationJob.prompt,
            sa.func.count().label("runs"),
            sa.func.coalesce(sa.func.sum(sa.case((succeeded, GenerationJob.num_images), else_=0)), 0).label(
                "images"
            ),
            sa.func.max(GenerationJob.created_at).label("last"),
        )
        .where(GenerationJob.owner_id == owner_id, GenerationJob.prompt != "")
        .group_by(GenerationJob.prompt)
        .order_by(sa.desc("last"))
        .limit(limit)
    )
    if search.strip():
        query = query.where(GenerationJob.prompt.ilike(_like(search.strip()), escape="\\"))
    with services.uow() as uow:
        rows = uow.session.execute(query).all()
        latest: dict[str, Request] = {}
        if rows:
            requests = uow.session.execute(
                sa.select(GenerationJob.prompt, GenerationJob.request)
                .where(
                    GenerationJob.owner_id == owner_id, GenerationJob.prompt.in_([row.prompt for row in rows])
                )
                .order_by(GenerationJob.created_at.desc())
                .limit(limit * 20)  # the newest jobs of these prompts are enough to find each one's latest
            )
            for prompt, stored in requests:
                latest.setdefault(prompt, Request.from_json(stored or {"prompt": prompt}))
    return [
        HistoryRow(
            row.prompt,
            int(row.runs),
            int(row.images),
            row.last,
            latest.get(row.prompt, Request("", row.prompt)),
        )
        for row in rows
    ]
