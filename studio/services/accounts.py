"""Accounts: sign-up, sign-in, one-time mail links, passwords and revocable sessions.

Passwords are bcrypt hashes in streamlit-authenticator's format (studio.services.passwords). Mail links
carry a random token of which only the SHA-256 is stored; a token works once, for one purpose, until it
expires. Every session carries the user's `session_version`; bumping it (sign out everywhere, a new
password, disabling the account) ends every other session at its next run, and `sessions_valid_from`
refuses older cookies.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db import SqlUnitOfWork, UnitOfWork
from studio.adapters.db.models import EmailToken, User, UserSettings, utcnow
from studio.domain.accounts import (
    NAME_MAX,
    Account,
    Role,
    TokenPurpose,
    email_problem,
    name_problem,
    normalize_email,
    normalize_username,
    password_problem,
    registration_problems,
)
from studio.errors import (
    Forbidden,
    InvalidForm,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    WrongCredentials,
)
from studio.services import mails
from studio.services.passwords import check_password, hash_password
from studio.services.plans import start_free_plan

if TYPE_CHECKING:
    from studio.bootstrap import Services

log = logging.getLogger(__name__)

#: Checked against when the account does not exist, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-but-a-constant-cost")
WRONG_CREDENTIALS = "That username or email and password do not match an account."
RESEND_INTERVAL = timedelta(seconds=60)
MAILS_PER_HOUR = 5


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


def _active(user: User | None) -> User | None:
    return user if user is not None and user.disabled_at is None and user.deleted_at is None else None


def get_account(uow: UnitOfWork, user_id: uuid.UUID) -> Account | None:
    """The account behind a signed-in session, or None when it is gone, disabled or deleted."""
    with uow:
        user = _active(uow.users.get(user_id))
        return to_account(user) if user else None


def session_account(uow: UnitOfWork, user_id: uuid.UUID, session_version: int) -> Account | None:
    """The account of a live session, or None once that session has been revoked."""
    with uow:
        user = _active(uow.users.get(user_id))
        if user is None or user.session_version != session_version:
            return None
        return to_account(user)


def cookie_account(uow: UnitOfWork, username: str, issued_at: datetime) -> Account | None:
    """The account a session cookie names, or None when the cookie predates a revocation."""
    with uow:
        user = _active(uow.users.get_by_username(username))
        if user is None or _revoked_since(user, issued_at):
            return None
        return to_account(user)


def _revoked_since(user: User, issued_at: datetime | None) -> bool:
    """Were the account's sessions revoked after a sign-in at `issued_at` (None: unknown, so no)?"""
    return (
        issued_at is not None
        and user.sessions_valid_from is not None
        and issued_at < user.sessions_valid_from
    )


def credential_entry(uow: UnitOfWork, username: str) -> dict[str, Any] | None:
    """One user in the shape streamlit-authenticator's credentials dict expects, read by primary key."""
    with uow:
        user = _active(uow.users.get_by_username(normalize_username(username)))
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


def record_sign_in(uow: UnitOfWork, username: str) -> None:
    """What streamlit-authenticator changed in its dict that the studio keeps: when the user signed in."""
    with uow:
        user = uow.users.get_by_username(username)
        if user is not None:
            user.last_login_at = utcnow()
            uow.commit()


# --- sign-up and mail links ---------------------------------------------------------------------------


def register(
    services: Services, *, email: str, username: str, name: str, password: str, repeat: str
) -> Account:
    """Create an account with its free credits and mail it a verification link."""
    problems = registration_problems(
        email=email, username=username, name=name, password=password, repeat=repeat
    )
    if problems:
        raise InvalidForm(problems)
    with services.uow() as uow:
        user = _new_user(uow, email=email, username=username, name=name, password=password)
        raw = _issue_token(uow.session, user, TokenPurpose.VERIFY_EMAIL, user.email)
        account = to_account(user)
        _commit_new(uow)
    mails.send(services, mails.verification(services.settings, account, raw))
    log.info("account registered", extra={"user_id": str(account.id)})
    return account


def _new_user(uow: SqlUnitOfWork, *, email: str, username: str, name: str, password: str) -> User:
    """A new user with default settings and the free plan's credits, in the caller's transaction."""
    email, username = normalize_email(email), normalize_username(username)
    _refuse_taken(uow.session, email=email, username=username)
    user = User(email=email, username=username, name=name.strip(), password_hash=hash_password(password))
    uow.users.add(user)
    uow.session.add(UserSettings(user_id=user.id))
    start_free_plan(uow.session, user.id)
    return user


def _commit_new(uow: SqlUnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError:  # a concurrent sign-up took the address or the name first
        raise InvalidForm(["That email address or username already has an account."]) from None


def _refuse_taken(session: Session, *, email: str | None = None, username: str | None = None) -> None:
    problems = []
    if email and session.scalar(sa.select(User.id).where(User.email == email)):
        problems.append("That email address already has an account: sign in, or reset your password.")
    if username and session.scalar(sa.select(User.id).where(User.username == username)):
        problems.append("That username is taken; choose another.")
    if problems:
        raise InvalidForm(problems)


def new_token() -> tuple[str, str]:
    """A one-time token for a link and the hash that is stored: a database leak reveals no usable link."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _issue_token(session: Session, user: User, purpose: TokenPurpose, email: str) -> str:
    raw, hashed = new_token()
    session.add(
        EmailToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=hashed,
            email=email,
            expires_at=utcnow() + purpose.lifetime,
        )
    )
    return raw


def _consume_token(session: Session, raw: str, purpose: TokenPurpose) -> tuple[EmailToken, User]:
    """The token's row and user, marked used; refused when unknown, used, expired or for another purpose."""
    token = session.scalar(
        sa.select(EmailToken).where(EmailToken.token_hash == token_hash(raw.strip())).with_for_update()
    )
    if token is None or token.purpose != purpose.value:
        raise InvalidInput("This link is not valid. Check that you opened the whole link from the mail.")
    if token.used_at is not None:
        raise InvalidInput("This link has already been used. Each link works once; ask for a new one.")
    if token.expires_at <= utcnow():
        raise InvalidInput("This link has expired. Ask for a new one.")
    user = _active(session.get(User, token.user_id))
    if user is None:
        raise InvalidInput("This link is not valid. Check that you opened the whole link from the mail.")
    token.used_at = utcnow()
    return token, user


def verify_email(services: Services, raw: str) -> Account:
    """Open a verification or email-change link: the address it was sent to is now the verified one."""
    with services.uow() as uow:
        found = uow.session.scalar(
            sa.select(EmailToken.purpose).where(EmailToken.token_hash == token_hash(raw.strip()))
        )
        purpose = (
            TokenPurpose.CHANGE_EMAIL if found == TokenPurpose.CHANGE_EMAIL else TokenPurpose.VERIFY_EMAIL
        )
        token, user = _consume_token(uow.session, raw, purpose)
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


def _mail_budget(session: Session, user_id: uuid.UUID, purpose: TokenPurpose) -> float:
    """Seconds until another mail of this kind may go to this user (0: now)."""
    now = utcnow()
    recent = list(
        session.scalars(
            sa.select(EmailToken.created_at)
            .where(
                EmailToken.user_id == user_id,
                EmailToken.purpose == purpose.value,
                EmailToken.created_at > now - timedelta(hours=1),
            )
            .order_by(EmailToken.created_at.desc())
        )
    )
    if recent and recent[0] > now - RESEND_INTERVAL:
        return (recent[0] + RESEND_INTERVAL - now).total_seconds()
    if len(recent) >= MAILS_PER_HOUR:
        return (recent[MAILS_PER_HOUR - 1] + timedelta(hours=1) - now).total_seconds()
    return 0.0


def resend_verification(services: Services, user_id: uuid.UUID) -> None:
    """Mail a fresh verification link; at most one a minute and five an hour."""
    with services.uow() as uow:
        user = _active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        if user.email_verified_at is not None:
            raise InvalidInput("Your email address is already verified.")
        wait = _mail_budget(uow.session, user.id, TokenPurpose.VERIFY_EMAIL)
        if wait > 0:
            raise TooManyAttempts(f"A link was sent recently. You can ask again in {_duration(wait)}.", wait)
        raw = _issue_token(uow.session, user, TokenPurpose.VERIFY_EMAIL, user.email)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.verification(services.settings, account, raw))


def request_password_reset(services: Services, email: str) -> None:
    """Mail a reset link when the address has an account. Says nothing either way: the caller shows the
    same message whatever happened, so nobody learns which addresses have accounts."""
    if email_problem(email):
        raise InvalidForm([email_problem(email) or ""])
    with services.uow() as uow:
        user = _active(uow.users.get_by_email(email))
        if user is None or (user.password_hash is None and user.oidc_subject is None):
            return
        if _mail_budget(uow.session, user.id, TokenPurpose.RESET_PASSWORD) > 0:
            log.info("password reset mail held back by the rate limit", extra={"user_id": str(user.id)})
            return
        raw = _issue_token(uow.session, user, TokenPurpose.RESET_PASSWORD, user.email)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.password_reset(services.settings, account, raw))


def check_reset_token(services: Services, raw: str) -> None:
    """Refuse a reset link before asking for a new password (the token stays unused)."""
    with services.uow() as uow:
        _consume_token(uow.session, raw, TokenPurpose.RESET_PASSWORD)  # rolled back: not marked used


def reset_password(services: Services, raw: str, password: str, repeat: str) -> Account:
    """Set a new password from a reset link; every session of the account ends."""
    with services.uow() as uow:
        _token, user = _consume_token(uow.session, raw, TokenPurpose.RESET_PASSWORD)
        _set_password(user, password, repeat)
        user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the mailbox
        _revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    services.sign_in_limits.account.clear(_account_key(account.username))
    mails.send(services, mails.password_changed(services.settings, account))
    log.info("password reset", extra={"user_id": str(account.id)})
    return account


# --- passwords and sessions ---------------------------------------------------------------------------


def _set_password(user: User, password: str, repeat: str) -> None:
    problems = [p for p in [password_problem(password, username=user.username, email=user.email)] if p]
    if password != repeat:
        problems.append("The two passwords are not the same.")
    if problems:
        raise InvalidForm(problems)
    user.password_hash = hash_password(password)


def _revoke_sessions(user: User) -> None:
    user.session_version += 1
    user.sessions_valid_from = utcnow()


def change_password(
    services: Services, user_id: uuid.UUID, current: str, password: str, repeat: str
) -> Account:
    """A new password for a signed-in user. Every other session ends; the returned account carries the new
    session version, which keeps the caller's own session."""
    with services.uow() as uow:
        user = _active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        check_attempts(services, user.username, None)
        if user.password_hash is None or not check_password(current, user.password_hash):
            count_failure(services, user.username, None)
            raise WrongCredentials("Your current password is not right.")
        if current == password:
            raise InvalidForm(["The new password is the same as the current one."])
        _set_password(user, password, repeat)
        _revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.password_changed(services.settings, account))
    return account


def sign_out_everywhere(services: Services, user_id: uuid.UUID) -> Account:
    """End every session of the user, this one included (the caller signs its own session out)."""
    with services.uow() as uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("no such account")
        _revoke_sessions(user)
        account = to_account(user)
        uow.commit()
    return account


# --- sign-in ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """A password that matched. When `needs_code`, the account has two-factor on and is not signed in yet."""

    account: Account
    needs_code: bool


def _account_key(login: str) -> str:
    return f"account:{normalize_email(login)}"


def _client_key(client: str | None) -> str | None:
    return f"client:{client}" if client else None


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


def check_attempts(services: Services, login: str, client: str | None) -> None:
    limits = services.sign_in_limits
    try:
        wait = limits.account.retry_after(_account_key(login))
        client_key = _client_key(client)
        client_wait = limits.client.retry_after(client_key) if client_key else 0.0
    except RedisError:
        log.exception("the sign-in limiter is unavailable; checking the password without it")
        return
    if wait > 0 or client_wait > 0:
        longest = max(wait, client_wait)
        raise TooManyAttempts(
            f"Too many failed sign-ins. For your safety, try again in {_duration(longest)}, "
            "or reset your password.",
            longest,
        )


def count_failure(services: Services, login: str, client: str | None) -> None:
    limits = services.sign_in_limits
    try:
        limits.account.fail(_account_key(login))
        client_key = _client_key(client)
        if client_key:
            limits.client.fail(client_key)
    except RedisError:
        log.exception("the sign-in limiter is unavailable; a failed sign-in was not counted")


def sign_in(services: Services, login: str, password: str, client: str | None = None) -> SignIn:
    """The account whose username or email and password match, counting failures per account and client.

    The same message and about the same time for an unknown account as for a wrong password."""
    login = login.strip()
    if not login or not password:
        raise WrongCredentials("Enter your username or email and your password.")
    check_attempts(services, login, client)
    with services.uow() as uow:
        user = _active(uow.users.get_by_login(login))
        stored = user.password_hash if user is not None else None
        matched = check_password(password, stored or _DUMMY_HASH) and stored is not None
        account = to_account(user) if user is not None else None
    if not matched or account is None:
        count_failure(services, login, client)
        raise WrongCredentials(WRONG_CREDENTIALS)
    if not account.two_factor:
        clear_attempts(services, login, account)
    return SignIn(account, needs_code=account.two_factor)


def clear_attempts(services: Services, login: str, account: Account) -> None:
    try:
        for key in {_account_key(login), _account_key(account.username), _account_key(account.email)}:
            services.sign_in_limits.account.clear(key)
    except RedisError:
        log.exception("the sign-in limiter is unavailable")


# --- profile ------------------------------------------------------------------------------------------


def update_name(services: Services, user_id: uuid.UUID, name: str) -> Account:
    problem = name_problem(name)
    if problem:
        raise InvalidForm([problem])
    with services.uow() as uow:
        user = _active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        user.name = name.strip()
        account = to_account(user)
        uow.commit()
    return account


def request_email_change(services: Services, user_id: uuid.UUID, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new address; the account keeps its address until it is opened."""
    problem = email_problem(new_email)
    if problem:
        raise InvalidForm([problem])
    address = normalize_email(new_email)
    with services.uow() as uow:
        user = _active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        if user.password_hash is not None and not check_password(password, user.password_hash):
            raise WrongCredentials("Your password is not right.")
        if address == user.email:
            raise InvalidForm(["That is already your email address."])
        _refuse_taken(uow.session, email=address)
        wait = _mail_budget(uow.session, user.id, TokenPurpose.CHANGE_EMAIL)
        if wait > 0:
            raise TooManyAttempts(f"A link was sent recently. You can ask again in {_duration(wait)}.", wait)
        raw = _issue_token(uow.session, user, TokenPurpose.CHANGE_EMAIL, address)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.email_change(services.settings, account, address, raw))


# --- single sign-on (OIDC through st.login) --------------------------------------------------------


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
        if _active(user) is None:
            raise Forbidden("This account is disabled.")
        if email_verified and user.email == address:
            user.email_verified_at = user.email_verified_at or utcnow()
        user.last_login_at = utcnow()
        account = to_account(user)
        _commit_new(uow)
    return account


def _free_username(session: Session, wanted: str) -> str:
    base = re.sub(r"[^a-z0-9_.-]", "", wanted.lower())[:24].lstrip("._-") or "user"
    base = base if len(base) >= 3 else f"{base}-user"
    for suffix in ["", *(f"-{secrets.token_hex(2)}" for _ in range(10))]:
        if not session.scalar(sa.select(User.id).where(User.username == base + suffix)):
            return base + suffix
    return f"user-{secrets.token_hex(6)}"


def oidc_session_valid(uow: UnitOfWork, user_id: uuid.UUID, issued_at: datetime | None) -> bool:
    """False when the provider's sign-in predates a revocation of the account's sessions."""
    with uow:
        user = uow.users.get(user_id)
        return user is not None and not _revoked_since(user, issued_at)


# --- roles --------------------------------------------------------------------------------------------


def create_admin(services: Services, *, email: str, username: str, name: str, password: str) -> Account:
    """A verified administrator with the free plan's credits; an existing account with this email is
    promoted instead (its password stays)."""
    with services.uow() as uow:
        user = _active(uow.users.get_by_email(email))
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
        _commit_new(uow)
    log.info("administrator created", extra={"user_id": str(account.id)})
    return account
