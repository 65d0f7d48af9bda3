"""One-time mail links: a random token of which only the SHA-256 is stored. A token works once, for one
purpose, until it expires; at most one mail of a kind a minute and five an hour go to an account."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import EmailToken, User, utcnow
from studio.domain.accounts import TokenPurpose
from studio.errors import InvalidInput, TooManyAttempts
from studio.services.accounts.sessions import active

RESEND_INTERVAL = timedelta(seconds=60)
MAILS_PER_HOUR = 5


def new_token() -> tuple[str, str]:
    """A one-time token for a link and the hash that is stored: a database leak reveals no usable link."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, purpose: TokenPurpose, email: str) -> str:
    """A new link's token for `email`, in the caller's transaction; returns the raw token for the mail."""
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


def purpose_of(session: Session, raw: str) -> str | None:
    """What a token was issued for, if it exists."""
    return session.scalar(
        sa.select(EmailToken.purpose).where(EmailToken.token_hash == token_hash(raw.strip()))
    )


def consume_token(session: Session, raw: str, purpose: TokenPurpose) -> tuple[EmailToken, User]:
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
    user = active(session.get(User, token.user_id))
    if user is None:
        raise InvalidInput("This link is not valid. Check that you opened the whole link from the mail.")
    token.used_at = utcnow()
    return token, user


def mail_budget(session: Session, user_id: uuid.UUID, purpose: TokenPurpose) -> float:
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


def check_budget(session: Session, user_id: uuid.UUID, purpose: TokenPurpose) -> None:
    """TooManyAttempts, saying when to ask again, while this kind of mail went out too recently."""
    wait = mail_budget(session, user_id, purpose)
    if wait > 0:
        raise TooManyAttempts(f"A link was sent recently. You can ask again in {duration(wait)}.", wait)


def duration(seconds: float) -> str:
    """A wait in words: seconds under a minute and a half, minutes beyond."""
    seconds = max(1, round(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"
