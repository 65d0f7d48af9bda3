"""Mail: SMTP in production; in embedded mode an outbox folder of `.eml` files that admins can read."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal, Protocol

from studio.errors import InvalidInput, MailError


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    backend: str

    def send(self, email: Email) -> None: ...


def build_message(email: Email, sender: str) -> EmailMessage:
    """A standard MIME message: plain text, with an HTML alternative when given."""
    address = parseaddr(email.to)[1]
    if "@" not in address or any(c in email.to for c in "\r\n") or any(c in email.subject for c in "\r\n"):
        raise InvalidInput(f"not a mail address or subject fit to send: {email.to!r}")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "studio.local")
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    """Hands messages to an SMTP server (STARTTLS, implicit TLS or plain, with optional login)."""

    backend = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        security: Literal["starttls", "ssl", "none"] = "starttls",
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._security, self._timeout = security, timeout

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self._timeout, context=ssl.create_default_context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        if self._security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        try:
            with self._connect() as client:
                if self._username:
                    client.login(self._username, self._password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            raise MailError(f"could not send mail through {self.host}:{self.port}: {err}") from err


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    to: str
    subject: str
    text: str
    sent_at: datetime


class OutboxMailer:
    """Writes each message to `<dir>/<time>-<id>.eml` instead of sending it (embedded mode)."""

    backend = "outbox"

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
            tmp.replace(path)
        except OSError as err:
            raise MailError(f"could not write to the outbox {self.directory}: {err}") from err

    def messages(self, limit: int = 50) -> list[OutboxMessage]:
        """The newest messages first."""
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*.eml"), reverse=True)[:limit]:
            parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            body = parsed.get_body(preferencelist=("plain",))
            found.append(
                OutboxMessage(
                    id=path.stem,
                    to=str(parsed["To"]),
                    subject=str(parsed["Subject"]),
                    text=body.get_content() if body is not None else "",
                    sent_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                )
            )
        return found
