"""Accounts: roles, the read model of a signed-in user, and the rules for what people type in.

Each rule returns the problem as a sentence for the form, or None; `*_problems` collect them all at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

EMAIL_MAX = 254
NAME_MAX = 200
USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN = 10
PASSWORD_MAX_BYTES = 72  # bcrypt reads no further: a longer password would be silently cut

_EMAIL = re.compile(r"^[^@\s\"<>()\[\],;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_USERNAME = re.compile(rf"^[a-z0-9][a-z0-9_.-]{{{USERNAME_MIN - 1},{USERNAME_MAX - 1}}}$")
_COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "1q2w3e4r5t",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "changeme123",
        "administrator",
        "abcdefghij",
        "aaaaaaaaaa",
    }
)


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class TokenPurpose(StrEnum):
    """What a one-time email token may be used for, and how long its link lives."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a password)
    CHANGE_EMAIL = "change_email"

    @property
    def lifetime(self) -> timedelta:
        return _LIFETIMES[self]


_LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=48),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=24),
}


@dataclass(frozen=True)
class Account:
    """A user as pages see it: plain values, no database session attached."""

    id: uuid.UUID
    email: str
    username: str
    name: str
    role: Role
    created_at: datetime
    email_verified: bool = True
    session_version: int = 0
    avatar_key: str | None = None
    two_factor: bool = False
    has_password: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def email_problem(raw: str) -> str | None:
    email = normalize_email(raw)
    if not email:
        return "Enter your email address."
    if len(email) > EMAIL_MAX:
        return f"An email address has at most {EMAIL_MAX} characters."
    if not _EMAIL.match(email):
        return "That is not an email address; it should look like name@example.com."
    return None


def username_problem(raw: str) -> str | None:
    username = normalize_username(raw)
    if not username:
        return "Choose a username."
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        return f"A username has {USERNAME_MIN} to {USERNAME_MAX} characters."
    if not _USERNAME.match(username):
        return "A username uses letters, digits, '.', '_' and '-', and starts with a letter or digit."
    return None


def name_problem(raw: str) -> str | None:
    name = raw.strip()
    if not name:
        return "Enter your name."
    if len(name) > NAME_MAX:
        return f"A name has at most {NAME_MAX} characters; this one has {len(name):,}."
    if any(ord(c) < 32 for c in name):
        return "A name cannot contain control characters or line breaks."
    return None


PASSWORD_POLICY = (
    f"At least {PASSWORD_MIN} characters (at most {PASSWORD_MAX_BYTES} bytes), not starting or ending with "
    "a space, and not your username, your email or a common password. A few unrelated words make a good one."
)


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"A password has at least {PASSWORD_MIN} characters."
    if len(password.encode()) > PASSWORD_MAX_BYTES:
        return f"A password has at most {PASSWORD_MAX_BYTES} bytes (fewer characters for accented letters)."
    if password != password.strip():
        return "A password cannot start or end with a space."
    lowered = password.lower()
    local_part = normalize_email(email).partition("@")[0]
    if lowered in _COMMON_PASSWORDS or len(set(lowered)) < 4:
        return "That password is too easy to guess; try a few unrelated words."
    for own in (normalize_username(username), local_part):
        if len(own) >= 3 and own in lowered:
            return "A password cannot contain your username or your email address."
    return None


def registration_problems(*, email: str, username: str, name: str, password: str, repeat: str) -> list[str]:
    """Every problem with a sign-up form, in the order of its fields."""
    found = [
        problem
        for problem in (
            email_problem(email),
            username_problem(username),
            name_problem(name),
            password_problem(password, username=username, email=email),
        )
        if problem
    ]
    if password != repeat:
        found.append("The two passwords are not the same.")
    return found
