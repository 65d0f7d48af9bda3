"""Signing in with a password, counting failures per account and per client address.

Passwords are bcrypt hashes in streamlit-authenticator's format (studio.services.passwords). An unknown
account costs as long as a wrong password and gets the same message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from studio.domain.accounts import Account, normalize_email
from studio.errors import TooManyAttempts, WrongCredentials
from studio.services.accounts.links import duration
from studio.services.accounts.sessions import active, to_account
from studio.services.context import Services
from studio.services.passwords import check_password, hash_password

log = logging.getLogger(__name__)

#: Checked against when the account does not exist, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-but-a-constant-cost")
WRONG_CREDENTIALS = "That username or email and password do not match an account."


@dataclass(frozen=True)
class SignIn:
    """A password that matched. When `needs_code`, the account has two-factor on and is not signed in yet."""

    account: Account
    needs_code: bool


def account_key(login: str) -> str:
    """The key of an account's failure count."""
    return f"account:{normalize_email(login)}"


def _client_key(client: str | None) -> str | None:
    return f"client:{client}" if client else None


def check_attempts(services: Services, login: str, client: str | None) -> None:
    """TooManyAttempts while the account or the client address is locked after failures."""
    limits = services.sign_in_limits
    try:
        wait = limits.account.retry_after(account_key(login))
        client_key = _client_key(client)
        client_wait = limits.client.retry_after(client_key) if client_key else 0.0
    except RedisError:
        log.exception("the sign-in limiter is unavailable; checking the password without it")
        return
    if wait > 0 or client_wait > 0:
        longest = max(wait, client_wait)
        raise TooManyAttempts(
            f"Too many failed sign-ins. For your safety, try again in {duration(longest)}, "
            "or reset your password.",
            longest,
        )


def count_failure(services: Services, login: str, client: str | None) -> None:
    """One more failed password for this account and client address."""
    limits = services.sign_in_limits
    try:
        limits.account.fail(account_key(login))
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
        user = active(uow.users.get_by_login(login))
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
    """A successful sign-in forgets the account's failures (under each name it can be typed as)."""
    try:
        for key in {account_key(login), account_key(account.username), account_key(account.email)}:
            services.sign_in_limits.account.clear(key)
    except RedisError:
        log.exception("the sign-in limiter is unavailable")
