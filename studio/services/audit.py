"""What every admin use case shares: the role check on the server, and the audit log's rows.

Admin services take the acting account's id and re-read its role from the database inside their own
transaction (a page's navigation is not a permission). Each change they make writes one AuditLog row in
the same transaction: who, what, on which record, before, after, why.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session

from studio.adapters.db.models import AuditLog, User
from studio.domain.accounts import Role
from studio.errors import Forbidden
from studio.services.context import Services

log = logging.getLogger(__name__)
NOT_ADMIN = "Only administrators can do this."


def check_admin(session: Session, actor_id: uuid.UUID) -> User:
    """The acting admin, read in this transaction; Forbidden for anybody else (or a disabled admin)."""
    actor = session.get(User, actor_id)
    if actor is None or actor.role != Role.ADMIN.value or actor.disabled_at or actor.deleted_at:
        log.warning("admin action refused", extra={"actor_id": str(actor_id)})
        raise Forbidden(NOT_ADMIN)
    return actor


def require_admin(services: Services, actor_id: uuid.UUID) -> None:
    """For read-only admin services: refuse non-admins before anything is read."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)


def audit(
    session: Session,
    actor_id: uuid.UUID,
    action: str,
    target_type: str,
    target_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditLog:
    """One audit row, in the caller's transaction (it commits with the change it records)."""
    row = AuditLog(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        reason=reason,
    )
    session.add(row)
    session.flush()
    log.info(
        "admin action %s on %s %s",
        action,
        target_type,
        target_id,
        extra={
            "actor_id": str(actor_id),
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
        },
    )
    return row
