"""The mails the studio sends, and how: a job hands each one to the mailer, so no page waits on SMTP.

Links begin with PUBLIC_URL. A mail carries a one-time token, so its text is never logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

from studio.adapters.mail import Email
from studio.domain.accounts import Account, TokenPurpose
from studio.errors import MailError, QueueError
from studio.services import dispatch
from studio.services.context import Services
from studio.settings import Settings

log = logging.getLogger(__name__)

VERIFY_PATH = "verify-email"
RESET_PATH = "reset-password"


def link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.public_base_url}/{path}?{urlencode({'token': token})}"


def _lifetime(purpose: TokenPurpose) -> str:
    hours = purpose.lifetime / timedelta(hours=1)
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def _signature(settings: Settings) -> str:
    return f"\n\n— the studio\n{settings.public_base_url}\n"


def verification(settings: Settings, account: Account, token: str) -> Email:
    url = link(settings, VERIFY_PATH, token)
    return Email(
        to=account.email,
        subject="Confirm your email address for the studio",
        text=(
            f"Hello {account.name},\n\nplease confirm that {account.email} is your address by opening this "
            f"link:\n\n{url}\n\nThe link works once and expires in {_lifetime(TokenPurpose.VERIFY_EMAIL)}. "
            "If you did not create an account, ignore this mail." + _signature(settings)
        ),
    )


def password_reset(settings: Settings, account: Account, token: str) -> Email:
    url = link(settings, RESET_PATH, token)
    return Email(
        to=account.email,
        subject="Reset your password for the studio",
        text=(
            f"Hello {account.name},\n\nsomeone asked to reset the password of your account "
            f"({account.username}). To choose a new one, open this link:\n\n{url}\n\n"
            f"The link works once and expires in {_lifetime(TokenPurpose.RESET_PASSWORD)}. Setting a new "
            "password signs you out everywhere. If it was not you, ignore this mail: your password stays."
            + _signature(settings)
        ),
    )


def email_change(settings: Settings, account: Account, address: str, token: str) -> Email:
    url = link(settings, VERIFY_PATH, token)
    return Email(
        to=address,
        subject="Confirm your new email address for the studio",
        text=(
            f"Hello {account.name},\n\nto use {address} for your account ({account.username}), open this "
            f"link:\n\n{url}\n\nThe link works once and expires in {_lifetime(TokenPurpose.CHANGE_EMAIL)}. "
            "Until then your account keeps its current address." + _signature(settings)
        ),
    )


def password_changed(settings: Settings, account: Account) -> Email:
    return Email(
        to=account.email,
        subject="Your password for the studio was changed",
        text=(
            f"Hello {account.name},\n\nthe password of your account ({account.username}) was just changed, "
            "and every other session was signed out. If that was not you, reset your password now at "
            f"{settings.public_base_url}/forgot-password." + _signature(settings)
        ),
    )


def send(services: Services, email: Email) -> None:
    """Queue the mail; if the queue refuses it, try the mailer directly. Never raises: the caller's change
    is already committed and the person can ask for the mail again."""
    try:
        dispatch.enqueue(
            services, dispatch.SEND_MAIL, email.to, email.subject, email.text, priority=dispatch.URGENT
        )
        return
    except QueueError:
        log.exception("could not queue a mail; sending it directly")
    try:
        services.mailer.send(email)
    except MailError:
        log.exception("could not send a mail to the mailer")
