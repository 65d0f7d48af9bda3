"""Who is signed in: the account behind a session, a cookie or a single sign-on, and revoking sessions.

Every session carries the user's `session_version`; bumping it (sign out everywhere, a new password,
disabling the account) ends every other session at its next run, and `sessions_valid_from` refuses older
cookies and older sign-ins at the identity provider.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from studio.adapters.db.models import User, utcnow
from studio.domain.accounts import Account, Role, normalize_username
from studio.errors import NotFound
from studio.services.context import Services


def to_account(user: User) -> Account:
    return Account(
        id=user.id,
        email=user.email,
        username=user.username,
        name=user.name,
        role=Role(user.role),
        created_at=user.created_at,
        email_verified=user.email_verified_at is not None,
        session_version=user.session_version,
        avatar_key=user.avatar_key,
        two_factor=user.totp_enabled_at is not None,
        has_password=user.password_hash is not None,
    )


def active(user: User | None) -> User | None:
    """The user, unless it is missing, disabled or deleted."""
    return user if user is not None and user.disabled_at is None and user.deleted_at is None else None


def get_account(services: Services, user_id: uuid.UUID) -> Account | None:
    """The account behind a signed-in session, or None when it is gone, disabled or deleted."""
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        return to_account(user) if user else None


def session_account(services: Services, user_id: uuid.UUID, session_version: int) -> Account | None:
    """The account of a live session, or None once that session has been revoked."""
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        if user is None or user.session_version != session_version:
            return None
        return to_account(user)


def cookie_account(services: Services, username: str, issued_at: datetime) -> Account | None:
    """The account a session cookie names, or None when the cookie predates a revocation."""
    with services.uow() as uow:
        user = active(uow.users.get_by_username(username))
        if user is None or _revoked_since(user, issued_at):
            return None
        return to_account(user)


def oidc_session_valid(services: Services, user_id: uuid.UUID, issued_at: datetime | None) -> bool:
    """False when the provider's sign-in predates a revocation of the account's sessions."""
    with services.uow() as uow:
        user = uow.users.get(user_id)
        return user is not None and not _revoked_since(user, issued_at)


def _revoked_since(user: User, issued_at: datetime | None) -> bool:
    """Were the account's sessions revoked after a sign-in at `issued_at` (None: unknown, so no)?"""
    return (
        issued_at is not None
        and user.sessions_valid_from is not None
        and issued_at < user.sessions_valid_from
    )


def credential_entry(services: Services, username: str) -> dict[str, Any] | None:
    """One user in the shape streamlit-authenticator's credentials dict expects, read by primary key."""
    with services.uow() as uow:
        user = active(uow.users.get_by_username(normalize_username(username)))
        if user is None:
            return None
        entry: dict[str, Any] = {
            "email": user.email,
            "name": user.name,
            "roles": [user.role],
            "failed_login_attempts": 0,
            "logged_in": False,
        }
        if user.password_hash is not None:
            entry["password"] = user.password_hash
        return entry


def record_sign_in(services: Services, username: str) -> None:
    """What streamlit-authenticator changed in its dict that the studio keeps: when the user signed in."""
    with services.uow() as uow:
        user = uow.users.get_by_username(username)
        if user is not None:
            user.last_login_at = utcnow()
            uow.commit()


def revoke_sessions(user: User) -> None:
    """Every session of the user ends at its next run (in the caller's transaction)."""
    user.session_version += 1
    user.sessions_valid_from = utcnow()


def sign_out_everywhere(services: Services, user_id: uuid.UUID) -> Account:
    """End every session of the user, this one included (the caller signs its own session out)."""
    with services.uow() as uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("no such account")
        revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    return account
