"""Admin: the audit log, newest first, filtered by the acting admin, the action and the days."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import AuditLog, User
from studio.domain.analytics import DateRange
from studio.services.audit import check_admin
from studio.services.context import Services


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # the admin's username, or "deleted account"
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def audit_actions(services: Services, actor_id: uuid.UUID) -> list[str]:
    """Every action name the log holds, for the filter."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        return list(uow.session.scalars(sa.select(AuditLog.action).distinct().order_by(AuditLog.action)))


def audit_log(
    services: Services,
    actor_id: uuid.UUID,
    *,
    days: DateRange | None = None,
    actor: str = "",
    action: str = "",
    limit: int = 500,
) -> list[AuditEntry]:
    """The newest audit rows, filtered by the acting admin's username or email, the action and the days."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        query = (
            sa.select(AuditLog, User.username)
            .outerjoin(User, User.id == AuditLog.actor_id)
            .order_by(AuditLog.created_at.desc(), AuditLog.id)
            .limit(limit)
        )
        if days is not None:
            query = query.where(AuditLog.created_at >= days.start, AuditLog.created_at < days.end)
        if actor.strip():
            wanted = actor.strip().lower()
            query = query.where(sa.or_(User.username == wanted, User.email == wanted))
        if action:
            query = query.where(AuditLog.action == action)
        return [
            AuditEntry(
                row.created_at,
                username or "deleted account",
                row.action,
                row.target_type,
                row.target_id,
                row.before,
                row.after,
                row.reason,
            )
            for row, username in uow.session.execute(query)
        ]
