"""Accounts end to end on the services: mails through a real SMTP server (aiosmtpd), one-time links,
lockout, revocation, two-factor and the create-admin command."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from redis import Redis

from studio import __main__ as cli
from studio.adapters.db.models import CreditLedger, EmailToken, User
from studio.domain.credits import FREE_PLAN_CREDITS
from studio.domain.parameters import Request
from studio.errors import Forbidden, InvalidForm, InvalidInput, TooManyAttempts, WrongCredentials
from studio.services.accounts import credentials, profile, sessions, signin, signup, two_factor
from studio.services.context import Services
from studio.services.generation import submissions
from studio.services.generation.catalogue import sync_catalogue
from tests.support.env import TEST_SECRET, wait_for
from tests.support.mail import SmtpInbox, smtp_server
from tests.support.services import embedded_settings, installed

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple moon river seven"


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailing(tmp_path: Path, inbox: SmtpInbox) -> Iterator[Services]:
    """SQLite, local files and in-process jobs, with mail over SMTP to the test's own server."""
    settings = embedded_settings(
        tmp_path / "data",
        smtp_host=inbox.host,
        smtp_port=inbox.port,
        smtp_security="none",
        secret_key=TEST_SECRET,
        public_url="http://studio.test",
        login_max_failures=3,
        login_lockout_minutes=1,
    )
    with installed(settings) as services:
        yield services


def register(services: Services, name: str = "ada", **fields: str) -> uuid.UUID:
    values = {"email": f"{name}@example.org", "username": name, "name": name.title(), "password": PASSWORD}
    values |= fields
    account = signup.register(services, repeat=values["password"], **values)
    return account.id


def mail_to(inbox: SmtpInbox, address: str, subject: str, count: int = 1) -> EmailMessage:
    def arrived() -> list[EmailMessage]:
        return [m for m in inbox.messages if m["To"] == address and subject in str(m["Subject"])]

    wait_for(lambda: len(arrived()) >= count)
    return arrived()[count - 1]


def token_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"http://studio\.test/{path}\?token=([\w-]+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


def user_row(services: Services, user_id: uuid.UUID) -> User:
    with services.uow() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        uow.session.expunge(user)
        return user


# --- sign-up and verification --------------------------------------------------------------------------


def test_sign_up_mails_a_link_that_verifies_once(mailing: Services, inbox: SmtpInbox) -> None:
    user_id = register(mailing)
    assert user_row(mailing, user_id).email_verified_at is None
    with mailing.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.sum(CreditLedger.delta))) == FREE_PLAN_CREDITS
        stored = uow.session.scalars(sa.select(EmailToken.token_hash)).all()
    token = token_in(mail_to(inbox, "ada@example.org", "Confirm your email"), "verify-email")
    assert token not in stored  # only its hash is kept
    assert signup.verify_email(mailing, token).email_verified
    assert user_row(mailing, user_id).email_verified_at is not None
    with pytest.raises(InvalidInput, match="already been used"):
        signup.verify_email(mailing, token)


@pytest.mark.parametrize(
    "tamper",
    [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t + "x", lambda t: "", lambda t: "x" * 43],
    ids=["altered", "extended", "empty", "forged"],
)
def test_an_altered_or_forged_link_is_refused(mailing: Services, inbox: SmtpInbox, tamper: object) -> None:
    register(mailing)
    token = token_in(mail_to(inbox, "ada@example.org", "Confirm"), "verify-email")
    assert callable(tamper)
    with pytest.raises(InvalidInput, match="not valid"):
        signup.verify_email(mailing, tamper(token))
    assert signup.verify_email(mailing, token).email_verified  # the real one still works


def test_an_expired_link_is_refused(mailing: Services, inbox: SmtpInbox) -> None:
    register(mailing)
    token = token_in(mail_to(inbox, "ada@example.org", "Confirm"), "verify-email")
    with mailing.uow() as uow:
        uow.session.execute(sa.update(EmailToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        uow.commit()
    with pytest.raises(InvalidInput, match="expired"):
        signup.verify_email(mailing, token)


def test_a_link_for_one_purpose_does_not_work_for_another(mailing: Services, inbox: SmtpInbox) -> None:
    register(mailing)
    token = token_in(mail_to(inbox, "ada@example.org", "Confirm"), "verify-email")
    with pytest.raises(InvalidInput, match="not valid"):
        credentials.reset_password(mailing, token, NEW_PASSWORD, NEW_PASSWORD)


def test_resending_the_verification_is_rate_limited(mailing: Services, inbox: SmtpInbox) -> None:
    user_id = register(mailing)
    with pytest.raises(TooManyAttempts, match="ask again in"):
        signup.resend_verification(mailing, user_id)
    with mailing.uow() as uow:  # a minute later
        uow.session.execute(
            sa.update(EmailToken).values(created_at=datetime.now(UTC) - timedelta(seconds=61))
        )
        uow.commit()
    signup.resend_verification(mailing, user_id)
    second = token_in(mail_to(inbox, "ada@example.org", "Confirm", count=2), "verify-email")
    assert signup.verify_email(mailing, second).email_verified


def test_unverified_accounts_cannot_generate_until_verified(mailing: Services, inbox: SmtpInbox) -> None:
    sync_catalogue(mailing)
    user_id = register(mailing)
    request = Request("fal-ai/flux/schnell", "a lighthouse", "", "None", {})
    with pytest.raises(Forbidden, match="Confirm your email"):
        submissions.start_generation(mailing, user_id, request, "key-1")
    signup.verify_email(mailing, token_in(mail_to(inbox, "ada@example.org", "Confirm"), "verify-email"))
    assert submissions.start_generation(mailing, user_id, request, "key-2").id


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "not an email address"),
        ({"password": "short"}, "at least 10 characters"),
        ({"password": "password123"}, "too easy to guess"),
        ({"password": "ada-is-my-password"}, "cannot contain your username"),
        ({"name": "n" * 10_000}, "at most 200 characters"),
        ({"username": "no spaces allowed"}, "letters, digits"),
    ],
)
def test_sign_up_refuses_bad_fields(mailing: Services, fields: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidForm, match=message):
        register(mailing, **fields)
    with mailing.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_sign_up_refuses_a_taken_email_or_username(mailing: Services) -> None:
    register(mailing)
    with pytest.raises(InvalidForm, match="already has an account"):
        register(mailing, username="other", email="ADA@example.org")
    with pytest.raises(InvalidForm, match="username is taken"):
        register(mailing, email="other@example.org", username="Ada")


# --- password reset -----------------------------------------------------------------------------------


def test_forgot_password_says_nothing_about_unknown_addresses(mailing: Services, inbox: SmtpInbox) -> None:
    register(mailing)
    credentials.request_password_reset(mailing, "nobody@example.org")  # no error, no mail
    credentials.request_password_reset(mailing, "ada@example.org")
    mail_to(inbox, "ada@example.org", "Reset your password")
    assert not [m for m in inbox.messages if m["To"] == "nobody@example.org"]


def test_a_reset_link_sets_the_password_once_and_revokes_sessions(
    mailing: Services, inbox: SmtpInbox
) -> None:
    user_id = register(mailing)
    before = signin.sign_in(mailing, "ada", PASSWORD).account
    credentials.request_password_reset(mailing, "ada@example.org")
    token = token_in(mail_to(inbox, "ada@example.org", "Reset"), "reset-password")
    credentials.check_reset_token(mailing, token)  # checking does not use it up
    with pytest.raises(InvalidForm, match="not the same"):
        credentials.reset_password(mailing, token, NEW_PASSWORD, NEW_PASSWORD + "!")
    after = credentials.reset_password(mailing, token, NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(InvalidInput, match="already been used"):
        credentials.reset_password(mailing, token, "another good passphrase", "another good passphrase")
    assert sessions.session_account(mailing, user_id, before.session_version) is None
    assert sessions.session_account(mailing, user_id, after.session_version) is not None
    with pytest.raises(WrongCredentials):
        signin.sign_in(mailing, "ada", PASSWORD)
    assert signin.sign_in(mailing, "ada@example.org", NEW_PASSWORD).account.id == user_id
    mail_to(inbox, "ada@example.org", "was changed")


def test_a_cookie_issued_before_a_password_change_is_refused(mailing: Services) -> None:
    user_id = register(mailing)
    issued = datetime.now(UTC) - timedelta(seconds=1)
    assert sessions.cookie_account(mailing, "ada", issued) is not None
    version = credentials.change_password(
        mailing, user_id, PASSWORD, NEW_PASSWORD, NEW_PASSWORD
    ).session_version
    assert sessions.cookie_account(mailing, "ada", issued) is None
    assert sessions.cookie_account(mailing, "ada", datetime.now(UTC)) is not None
    sessions.sign_out_everywhere(mailing, user_id)
    assert sessions.session_account(mailing, user_id, version) is None


def test_change_password_checks_the_current_one(mailing: Services) -> None:
    user_id = register(mailing)
    with pytest.raises(WrongCredentials, match="current password"):
        credentials.change_password(mailing, user_id, "wrong one here", NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(InvalidForm, match="at least 10"):
        credentials.change_password(mailing, user_id, PASSWORD, "short", "short")
    assert signin.sign_in(mailing, "ada", PASSWORD)


# --- sign-in and lockout ------------------------------------------------------------------------------


def test_unknown_accounts_and_wrong_passwords_read_the_same(mailing: Services) -> None:
    register(mailing)
    messages = set()
    for login, password in (
        ("ada", "wrong password!"),
        ("nobody", PASSWORD),
        ("nobody@example.org", PASSWORD),
    ):
        with pytest.raises(WrongCredentials) as failure:
            signin.sign_in(mailing, login, password)
        messages.add(str(failure.value))
    assert messages == {signin.WRONG_CREDENTIALS}


def test_an_account_locks_after_its_failures_and_opens_after_the_window(mailing: Services) -> None:
    register(mailing)
    for _ in range(3):
        with pytest.raises(WrongCredentials):
            signin.sign_in(mailing, "ada", "wrong password!", client="198.51.100.7")
    with pytest.raises(TooManyAttempts, match=r"try again in (\d+) seconds") as locked:
        signin.sign_in(mailing, "ada", PASSWORD, client="203.0.113.9")  # even the right password
    assert 50 < locked.value.retry_after <= 60
    # an unknown account locks the same way: the lock says nothing about existence
    for _ in range(3):
        with pytest.raises(WrongCredentials):
            signin.sign_in(mailing, "nobody", "wrong password!", client="198.51.100.8")
    with pytest.raises(TooManyAttempts):
        signin.sign_in(mailing, "nobody", "wrong password!", client="198.51.100.8")


def test_the_lock_is_released_after_the_window(tmp_path: Path) -> None:
    now = [1_000_000.0]
    settings = embedded_settings(tmp_path / "data", login_max_failures=3, login_lockout_minutes=1)
    with installed(settings) as services:
        from studio.adapters.attempts import MemoryAttempts

        policy = services.sign_in_limits.account.policy
        services.sign_in_limits = type(services.sign_in_limits)(
            MemoryAttempts(policy, clock=lambda: now[0]), services.sign_in_limits.client
        )
        signup.create_admin(services, email="ada@example.org", username="ada", name="Ada", password=PASSWORD)
        for _ in range(3):
            with pytest.raises(WrongCredentials):
                signin.sign_in(services, "ada", "wrong password!")
        with pytest.raises(TooManyAttempts):
            signin.sign_in(services, "ada", PASSWORD)
        now[0] += 61
        assert signin.sign_in(services, "ada", PASSWORD).account.username == "ada"


def test_a_client_is_locked_across_accounts(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", login_client_max_failures=4)
    with installed(settings) as services:
        for n in range(4):
            with pytest.raises(WrongCredentials):
                signin.sign_in(services, f"user{n}", "wrong password!", client="192.0.2.1")
        with pytest.raises(TooManyAttempts):
            signin.sign_in(services, "someone-else", "wrong password!", client="192.0.2.1")
        with pytest.raises(WrongCredentials):  # another client is not affected
            signin.sign_in(services, "someone-else", "wrong password!", client="192.0.2.2")


# --- profile, two-factor, admin -----------------------------------------------------------------------


def test_an_email_change_takes_effect_when_the_new_address_confirms(
    mailing: Services, inbox: SmtpInbox
) -> None:
    user_id = register(mailing)
    register(mailing, "bob")
    with pytest.raises(InvalidForm, match="already has an account"):
        profile.request_email_change(mailing, user_id, "bob@example.org", PASSWORD)
    with pytest.raises(WrongCredentials):
        profile.request_email_change(mailing, user_id, "ada@new.example", "wrong password!")
    profile.request_email_change(mailing, user_id, "Ada@New.Example", PASSWORD)
    assert user_row(mailing, user_id).email == "ada@example.org"
    token = token_in(mail_to(inbox, "ada@new.example", "new email"), "verify-email")
    account = signup.verify_email(mailing, token)
    assert (account.email, account.email_verified) == ("ada@new.example", True)


def test_two_factor_sign_in_with_a_code_and_a_recovery_code(mailing: Services) -> None:
    user_id = register(mailing)
    uri = two_factor.begin_enrolment(mailing, user_id)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    with pytest.raises(WrongCredentials):
        two_factor.confirm_enrolment(mailing, user_id, "000000" if totp.now() != "000000" else "111111")
    codes = two_factor.confirm_enrolment(mailing, user_id, totp.now())
    assert len(codes) == two_factor.RECOVERY_CODES
    assert totp.secret not in str(user_row(mailing, user_id).totp_secret)  # stored encrypted
    step = signin.sign_in(mailing, "ada", PASSWORD)
    assert step.needs_code
    # the code that confirmed the enrolment cannot be replayed; a recovery code works once
    with pytest.raises(WrongCredentials):
        two_factor.verify_sign_in(mailing, user_id, "ada", totp.now(), None)
    assert two_factor.verify_sign_in(mailing, user_id, "ada", codes[0], None).id == user_id
    with pytest.raises(WrongCredentials):
        two_factor.verify_sign_in(mailing, user_id, "ada", codes[0], None)
    assert two_factor.recovery_codes_left(mailing, user_id) == two_factor.RECOVERY_CODES - 1


def test_create_admin_makes_a_verified_admin_and_promotes_an_existing_account(
    mailing: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from studio import bootstrap

    monkeypatch.setattr(bootstrap, "services", lambda: mailing)
    monkeypatch.setattr(mailing, "close", lambda: None)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        cli.main(["create-admin", "--email", "root@example.org", "--username", "root", "--password-stdin"])
        == 0
    )
    assert "root <root@example.org> is an administrator" in capsys.readouterr().out
    admin = signin.sign_in(mailing, "root", PASSWORD).account
    assert admin.is_admin
    assert admin.email_verified
    user_id = register(mailing)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert (
        cli.main(["create-admin", "--email", "ada@example.org", "--username", "x", "--password-stdin"]) == 0
    )
    assert user_row(mailing, user_id).role == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli.main(["create-admin", "--email", "new@example.org", "--username", "new", "--password-stdin"]) == 2
    )
    assert "at least 10 characters" in capsys.readouterr().err


def test_a_queued_mail_never_puts_its_link_in_the_worker_log(redis_conn: Redis) -> None:
    """RQ workers log each job's description; a mail job's arguments hold a one-time link."""
    from rq.job import Job

    from studio import jobs
    from studio.adapters.queue import RQQueue

    queue = RQQueue(redis_conn, ("high",))
    job_id = queue.enqueue(
        jobs.send_mail, "ada@example.org", "Reset", "http://x/reset?token=SECRET", queue="high"
    )
    description = Job.fetch(job_id, connection=redis_conn).description
    assert description == "studio.jobs.send_mail"
    assert "SECRET" not in description
