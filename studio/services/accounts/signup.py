"""Accounts come into being: sign-up with a verification mail, the verification link, and the first
administrator (`python -m studio create-admin`). Every new account starts on the free plan."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db import SqlUnitOfWork
from studio.adapters.db.models import User, UserSettings, utcnow
from studio.domain.accounts import (
    Account,
    Role,
    TokenPurpose,
    normalize_email,
    normalize_username,
    registration_problems,
)
from studio.errors import InvalidForm, InvalidInput, NotFound
from studio.services import mails
from studio.services.accounts import links
from studio.services.accounts.sessions import active, to_account
from studio.services.billing.plans import start_free_plan
from studio.services.context import Services
from studio.services.passwords import hash_password

log = logging.getLogger(__name__)


def register(
    services: Services,
    *,
    email: str,
    username: str,
    name: str,
    password: str,
    repeat: str,
    address: str | None = None,
) -> Account:
    """Create an account with its free credits and mail it a verification link. At most
    RATE_LIMIT_SIGNUPS new accounts come from one client `address`."""
    problems = registration_problems(
        email=email, username=username, name=name, password=password, repeat=repeat
    )
    if problems:
        raise InvalidForm(problems)
    if address:
        services.limit(services.settings.rate_limit_signups, "new accounts from this address", address)
    with services.uow() as uow:
        user = _new_user(uow, email=email, username=username, name=name, password=password)
        raw = links.issue_token(uow.session, user, TokenPurpose.VERIFY_EMAIL, user.email)
        account = to_account(user)
        with unique_account():
            uow.commit()
    mails.send(services, mails.verification(services.settings, account, raw))
    log.info("account registered", extra={"user_id": str(account.id)})
    return account


def _new_user(uow: SqlUnitOfWork, *, email: str, username: str, name: str, password: str) -> User:
    """A new user with default settings and the free plan's credits, in the caller's transaction."""
    email, username = normalize_email(email), normalize_username(username)
    refuse_taken(uow.session, email=email, username=username)
    user = User(email=email, username=username, name=name.strip(), password_hash=hash_password(password))
    uow.users.add(user)
    uow.session.add(UserSettings(user_id=user.id))
    start_free_plan(uow.session, user.id)
    return user


@contextmanager
def unique_account() -> Iterator[None]:
    """Around the commit of a new account: a concurrent sign-up that took the address or the name first
    is refused with the form's message."""
    try:
        yield
    except IntegrityError:
        raise InvalidForm(["That email address or username already has an account."]) from None


def refuse_taken(session: Session, *, email: str | None = None, username: str | None = None) -> None:
    """InvalidForm when the address or the username already has an account."""
    problems = []
    if email and session.scalar(sa.select(User.id).where(User.email == email)):
        problems.append("That email address already has an account: sign in, or reset your password.")
    if username and session.scalar(sa.select(User.id).where(User.username == username)):
        problems.append("That username is taken; choose another.")
    if problems:
        raise InvalidForm(problems)


def verify_email(services: Services, raw: str) -> Account:
    """Open a verification or email-change link: the address it was sent to is now the verified one."""
    with services.uow() as uow:
        found = links.purpose_of(uow.session, raw)
        purpose = (
            TokenPurpose.CHANGE_EMAIL if found == TokenPurpose.CHANGE_EMAIL else TokenPurpose.VERIFY_EMAIL
        )
        token, user = links.consume_token(uow.session, raw, purpose)
        if purpose is TokenPurpose.CHANGE_EMAIL:
            address = normalize_email(token.email or "")
            if uow.session.scalar(sa.select(User.id).where(User.email == address, User.id != user.id)):
                raise InvalidInput("That email address now belongs to another account.")
            user.email = address
        elif token.email != user.email:
            raise InvalidInput("This link was for an address this account no longer uses.")
        user.email_verified_at = utcnow()
        account = to_account(user)
        uow.commit()
    log.info("email verified", extra={"user_id": str(account.id)})
    return account


def resend_verification(services: Services, user_id: uuid.UUID) -> None:
    """Mail a fresh verification link; at most one a minute and five an hour."""
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        if user.email_verified_at is not None:
            raise InvalidInput("Your email address is already verified.")
        links.check_budget(uow.session, user.id, TokenPurpose.VERIFY_EMAIL)
        raw = links.issue_token(uow.session, user, TokenPurpose.VERIFY_EMAIL, user.email)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.verification(services.settings, account, raw))


def create_admin(services: Services, *, email: str, username: str, name: str, password: str) -> Account:
    """A verified administrator with the free plan's credits; an existing account with this email is
    promoted instead (its password stays)."""
    with services.uow() as uow:
        user = active(uow.users.get_by_email(email))
        if user is None:
            problems = registration_problems(
                email=email, username=username, name=name, password=password, repeat=password
            )
            if problems:
                raise InvalidForm(problems)
            user = _new_user(uow, email=email, username=username, name=name, password=password)
        user.role = Role.ADMIN.value
        user.email_verified_at = user.email_verified_at or utcnow()
        account = to_account(user)
        with unique_account():
            uow.commit()
    log.info("administrator created", extra={"user_id": str(account.id)})
    return account
