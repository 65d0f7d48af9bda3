"""Mail: SMTP against a real server in the test process, and the outbox of embedded mode."""

from __future__ import annotations

from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from studio.adapters.mail import Email, Mailer, OutboxMailer, SmtpMailer
from studio.errors import InvalidInput, MailError
from tests.support.env import free_port
from tests.support.fakes import FakeMailer
from tests.support.mail import SmtpInbox, smtp_server

WELCOME = Email(
    to="Ada <ada@example.org>",
    subject="Welcome to the studio",
    text="Open https://studio.example.org/verify?token=abc to verify.",
    html="<p>Open <a href='https://studio.example.org/verify?token=abc'>this link</a>.</p>",
)


def plain_smtp(inbox: SmtpInbox) -> SmtpMailer:
    return SmtpMailer(inbox.host, inbox.port, sender="the studio <studio@example.org>", security="none")


def test_smtp_delivers_text_and_html(smtp_inbox: SmtpInbox) -> None:
    plain_smtp(smtp_inbox).send(WELCOME)
    [message] = smtp_inbox.messages
    assert message["To"] == "Ada <ada@example.org>"
    assert message["From"] == "the studio <studio@example.org>"
    assert message["Subject"] == "Welcome to the studio"
    assert message["Message-ID"]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert "verify?token=abc" in text.get_content()
    assert html is not None
    assert "<a href=" in html.get_content()


def _only_studio(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (b"studio", b"right-password")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)  # a test server on loopback
@pytest.mark.parametrize(("password", "delivered"), [("right-password", True), ("wrong-password", False)])
def test_smtp_logs_in_when_the_server_asks(password: str, delivered: bool) -> None:
    with smtp_server(auth_required=True, auth_require_tls=False, authenticator=_only_studio) as inbox:
        mailer = SmtpMailer(
            inbox.host,
            inbox.port,
            sender="studio@example.org",
            username="studio",
            password=password,
            security="none",
        )
        if delivered:
            mailer.send(WELCOME)
        else:
            with pytest.raises(MailError):
                mailer.send(WELCOME)
        assert len(inbox.messages) == (1 if delivered else 0)


def test_an_unreachable_smtp_server_is_a_mail_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), sender="studio@example.org", security="none", timeout=2)
    with pytest.raises(MailError, match="could not send"):
        mailer.send(WELCOME)


def test_starttls_against_a_server_without_it_is_a_mail_error(smtp_inbox: SmtpInbox) -> None:
    mailer = SmtpMailer(smtp_inbox.host, smtp_inbox.port, sender="studio@example.org", security="starttls")
    with pytest.raises(MailError):
        mailer.send(WELCOME)
    assert smtp_inbox.messages == []


@pytest.fixture(params=["smtp", "outbox", "fake"])
def mailer(request: pytest.FixtureRequest) -> Mailer:
    if request.param == "smtp":
        return plain_smtp(request.getfixturevalue("smtp_inbox"))
    if request.param == "outbox":
        outbox: OutboxMailer = request.getfixturevalue("outbox")
        return outbox
    return FakeMailer()


@pytest.mark.parametrize(
    "email",
    [
        Email(to="not an address", subject="s", text="t"),
        Email(to="a@example.org\r\nBcc: everyone@example.org", subject="s", text="t"),
        Email(to="a@example.org", subject="hi\r\nBcc: everyone@example.org", text="t"),
    ],
)
def test_header_injection_and_bad_addresses_are_refused(mailer: Mailer, email: Email) -> None:
    with pytest.raises(InvalidInput):
        mailer.send(email)


def test_the_outbox_keeps_messages_newest_first(outbox: OutboxMailer) -> None:
    for n in range(3):
        outbox.send(Email(to=f"user{n}@example.org", subject=f"Message {n}", text=f"Body {n}"))
    messages = outbox.messages()
    assert [m.subject for m in messages] == ["Message 2", "Message 1", "Message 0"]
    assert messages[0].to == "user2@example.org"
    assert messages[0].text.strip() == "Body 2"
    assert len(list(outbox.directory.glob("*.eml"))) == 3
    assert outbox.messages(limit=1)[0].subject == "Message 2"


def test_an_empty_outbox_has_no_messages(outbox: OutboxMailer) -> None:
    assert outbox.messages() == []
