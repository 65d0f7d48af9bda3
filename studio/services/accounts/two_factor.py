"""Two-factor sign-in with a TOTP app (pyotp), and one-time recovery codes.

The TOTP secret is stored encrypted with a key derived from SECRET_KEY; recovery codes only as SHA-256.
A code is accepted one step either side of now (clock drift), and each time step only once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid

import pyotp
from cryptography.fernet import Fernet, InvalidToken

from studio.adapters.db.models import User, utcnow
from studio.domain.accounts import Account
from studio.errors import InvalidInput, NotFound, WrongCredentials
from studio.services.accounts import signin
from studio.services.accounts.sessions import to_account
from studio.services.context import Services
from studio.services.passwords import check_password

ISSUER = "the studio"
RECOVERY_CODES = 10
_WRONG_CODE = "That code is not right. Use the current code from your app, or one of your recovery codes."


def _fernet(services: Services) -> Fernet:
    key = hmac.new(services.secret.encode(), b"studio totp secret", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _secret(services: Services, user: User) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet(services).decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:  # SECRET_KEY changed: the enrolment cannot be used any more
        return None


def _user(uow_user: User | None) -> User:
    if uow_user is None or uow_user.deleted_at is not None or uow_user.disabled_at is not None:
        raise NotFound("no such account")
    return uow_user


def begin_enrolment(services: Services, user_id: uuid.UUID) -> str:
    """A new secret for the account (not yet in force); returns the otpauth:// URI for the QR code."""
    secret = pyotp.random_base32()
    with services.uow() as uow:
        user = _user(uow.users.get(user_id))
        if user.totp_enabled_at is not None:
            raise InvalidInput("Two-factor sign-in is already on. Turn it off first to enrol a new app.")
        user.totp_secret = _fernet(services).encrypt(secret.encode()).decode()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
        uow.commit()
    return uri


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.strip().replace("-", "").lower().encode()).hexdigest()


def confirm_enrolment(services: Services, user_id: uuid.UUID, code: str) -> list[str]:
    """Turn two-factor on once the app shows a right code; returns the recovery codes, shown only now."""
    with services.uow() as uow:
        user = _user(uow.users.get(user_id))
        secret = _secret(services, user)
        if secret is None or user.totp_enabled_at is not None:
            raise InvalidInput("Start the set-up again: scan a new QR code with your app.")
        if not _accept_totp(user, secret, code.strip().replace(" ", "")):
            raise WrongCredentials("That code is not right; check your phone's clock and try the next code.")
        codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
        user.recovery_codes = [_recovery_hash(c) for c in codes]
        user.totp_enabled_at = utcnow()
        uow.commit()
    return codes


def disable(services: Services, user_id: uuid.UUID, password: str) -> None:
    with services.uow() as uow:
        user = _user(uow.users.get(user_id))
        if user.password_hash is not None and not check_password(password, user.password_hash):
            raise WrongCredentials("Your password is not right.")
        user.totp_secret = None
        user.totp_enabled_at = None
        user.recovery_codes = None
        uow.commit()


def verify_sign_in(
    services: Services, user_id: uuid.UUID, login: str, code: str, client: str | None
) -> Account:
    """The second step of a sign-in: a current TOTP code (each step once) or an unused recovery code.
    Failures count towards the same lockout as wrong passwords."""
    signin.check_attempts(services, login, client)
    code = code.strip().replace(" ", "")
    with services.uow() as uow:
        user = _user(uow.users.get(user_id))
        secret = _secret(services, user)
        if (secret is not None and _accept_totp(user, secret, code)) or _use_recovery_code(user, code):
            account = to_account(user)
            uow.commit()
            signin.clear_attempts(services, login, account)
            return account
    signin.count_failure(services, login, client)
    raise WrongCredentials(_WRONG_CODE)


def _accept_totp(user: User, secret: str, code: str) -> bool:
    """A code for now or one step either side, and newer than the last accepted one (no replay)."""
    if not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now = time.time()
    for drift in (-1, 0, 1):
        at = now + drift * totp.interval
        step = int(at // totp.interval)
        if hmac.compare_digest(totp.at(at), code) and step > (user.totp_last_step or 0):
            user.totp_last_step = step
            return True
    return False


def _use_recovery_code(user: User, code: str) -> bool:
    hashed = _recovery_hash(code)
    remaining = list(user.recovery_codes or [])
    if hashed not in remaining:
        return False
    remaining.remove(hashed)
    user.recovery_codes = remaining
    return True


def recovery_codes_left(services: Services, user_id: uuid.UUID) -> int:
    with services.uow() as uow:
        return len(_user(uow.users.get(user_id)).recovery_codes or [])
