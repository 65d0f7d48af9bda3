"""Single sign-on through `st.login` (OIDC): the account of an identity from the provider."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import User, UserSettings, utcnow
from studio.domain.accounts import NAME_MAX, Account, email_problem, normalize_email
from studio.errors import Forbidden, InvalidInput
from studio.services.accounts.sessions import active, to_account
from studio.services.accounts.signup import unique_account
from studio.services.billing.plans import start_free_plan
from studio.services.context import Services


def oidc_account(
    services: Services, *, subject: str, email: str | None, email_verified: bool, name: str | None
) -> Account:
    """The account of an identity from the OIDC provider: the one linked to it; else the account with that
    address, linked now if the provider verified the address; else a new account without a password."""
    address = normalize_email(email or "")
    with services.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.oidc_subject == subject))
        if user is None and address:
            existing = uow.users.get_by_email(address)
            if existing is not None and not email_verified:
                raise Forbidden(
                    "An account with this email address exists. Sign in with its password; your provider "
                    "has not verified the address, so it cannot be linked."
                )
            user = existing
            if user is not None:
                user.oidc_subject = subject
        if user is None:
            if email_problem(address):
                raise InvalidInput("Your sign-in provider did not share a usable email address.")
            user = User(
                email=address,
                username=_free_username(uow.session, address.partition("@")[0]),
                name=(name or address.partition("@")[0]).strip()[:NAME_MAX],
                oidc_subject=subject,
            )
            uow.users.add(user)
            uow.session.add(UserSettings(user_id=user.id))
            start_free_plan(uow.session, user.id)
        if active(user) is None:
            raise Forbidden("This account is disabled.")
        if email_verified and user.email == address:
            user.email_verified_at = user.email_verified_at or utcnow()
        user.last_login_at = utcnow()
        account = to_account(user)
        with unique_account():
            uow.commit()
    return account


def _free_username(session: Session, wanted: str) -> str:
    base = re.sub(r"[^a-z0-9_.-]", "", wanted.lower())[:24].lstrip("._-") or "user"
    base = base if len(base) >= 3 else f"{base}-user"
    for suffix in ["", *(f"-{secrets.token_hex(2)}" for _ in range(10))]:
        if not session.scalar(sa.select(User.id).where(User.username == base + suffix)):
            return base + suffix
    return f"user-{secrets.token_hex(6)}"
