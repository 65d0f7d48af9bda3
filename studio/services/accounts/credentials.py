"""A new password: changed while signed in (the current one first), or reset from a mail link. Either way
every other session ends and the account holder gets a mail saying so."""

from __future__ import annotations

import logging
import uuid

from studio.adapters.db.models import User, utcnow
from studio.domain.accounts import Account, TokenPurpose, email_problem, password_problem
from studio.errors import InvalidForm, NotFound, WrongCredentials
from studio.services import mails
from studio.services.accounts import links, signin
from studio.services.accounts.sessions import active, revoke_sessions, to_account
from studio.services.context import Services
from studio.services.passwords import check_password, hash_password

log = logging.getLogger(__name__)


def request_password_reset(services: Services, email: str) -> None:
    """Mail a reset link when the address has an account. Says nothing either way: the caller shows the
    same message whatever happened, so nobody learns which addresses have accounts."""
    if email_problem(email):
        raise InvalidForm([email_problem(email) or ""])
    with services.uow() as uow:
        user = active(uow.users.get_by_email(email))
        if user is None or (user.password_hash is None and user.oidc_subject is None):
            return
        if links.mail_budget(uow.session, user.id, TokenPurpose.RESET_PASSWORD) > 0:
            log.info("password reset mail held back by the rate limit", extra={"user_id": str(user.id)})
            return
        raw = links.issue_token(uow.session, user, TokenPurpose.RESET_PASSWORD, user.email)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.password_reset(services.settings, account, raw))


def check_reset_token(services: Services, raw: str) -> None:
    """Refuse a reset link before asking for a new password (the token stays unused)."""
    with services.uow() as uow:
        links.consume_token(uow.session, raw, TokenPurpose.RESET_PASSWORD)  # rolled back: not marked used


def reset_password(services: Services, raw: str, password: str, repeat: str) -> Account:
    """Set a new password from a reset link; every session of the account ends."""
    with services.uow() as uow:
        _token, user = links.consume_token(uow.session, raw, TokenPurpose.RESET_PASSWORD)
        _set_password(user, password, repeat)
        user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the mailbox
        revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    services.sign_in_limits.account.clear(signin.account_key(account.username))
    mails.send(services, mails.password_changed(services.settings, account))
    log.info("password reset", extra={"user_id": str(account.id)})
    return account


def change_password(
    services: Services, user_id: uuid.UUID, current: str, password: str, repeat: str
) -> Account:
    """A new password for a signed-in user. Every other session ends; the returned account carries the new
    session version, which keeps the caller's own session."""
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        signin.check_attempts(services, user.username, None)
        if user.password_hash is None or not check_password(current, user.password_hash):
            signin.count_failure(services, user.username, None)
            raise WrongCredentials("Your current password is not right.")
        if current == password:
            raise InvalidForm(["The new password is the same as the current one."])
        _set_password(user, password, repeat)
        revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.password_changed(services.settings, account))
    return account


def _set_password(user: User, password: str, repeat: str) -> None:
    problems = [p for p in [password_problem(password, username=user.username, email=user.email)] if p]
    if password != repeat:
        problems.append("The two passwords are not the same.")
    if problems:
        raise InvalidForm(problems)
    user.password_hash = hash_password(password)
