"""Accounts in the real app and Debian Chromium: sign-up, mail links, session cookies, lockout.

The app runs with SMTP set (so not in embedded mode: no demo sign-in) against a real aiosmtpd server in this
process; SQLite, local files and in-process jobs as in embedded mode. Mails are sent by an in-process job,
so the tests wait for them in the inbox.

A form submitted while a run is under way is sometimes dropped without a trace (3 loads in 40 here, the
form filled at once, when every page load still ran twice), so a `Tab` waits for the session to be idle,
read from Streamlit's own websocket messages, before it fills a form.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import Tab, opened_page, running_app, shoot, sidebar_links
from tests.support.env import ROOT, TEST_SECRET, free_port, wait_for
from tests.support.mail import SmtpInbox, smtp_server

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)

COOKIE = "studio_session"
WRONG_CREDENTIALS = "That username or email and password do not match an account."
SIGNED_OUT_LINKS = ["Welcome", "Sign in", "Create account"]


@dataclass(frozen=True)
class AccountsApp:
    url: str
    inbox: SmtpInbox
    log: Path


@dataclass(frozen=True)
class Person:
    email: str
    username: str
    name: str
    password: str


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccountsApp]:
    cwd = tmp_path_factory.mktemp("studio-accounts")
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    port, log = free_port(), cwd / "app.log"
    with smtp_server() as inbox:
        env = {
            "SMTP_HOST": inbox.host,
            "SMTP_PORT": str(inbox.port),
            "SMTP_SECURITY": "none",
            "SECRET_KEY": TEST_SECRET,
            "LOGIN_MAX_FAILURES": "3",  # a lockout after three wrong passwords
        }
        with running_app(cwd, log, port=port, extra_env=env) as url:
            assert url == f"http://127.0.0.1:{port}"  # PUBLIC_URL: the links in mails point here
            yield AccountsApp(url, inbox, log)


@pytest.fixture(autouse=True)
def _app_log(app: AccountsApp) -> Iterator[None]:
    """What the app logged during the test: pytest shows it when the test fails."""
    start = app.log.stat().st_size
    yield
    with app.log.open() as log:
        log.seek(start)
        print(f"--- app log during the test ({app.log}):\n{log.read()}")


@contextmanager
def opened_tab(browser: Browser) -> Iterator[Tab]:
    with opened_page(browser, 1280, 1000) as page:
        yield Tab(page)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    with opened_tab(browser) as opened:
        yield opened


def new_person() -> Person:
    tag = uuid.uuid4().hex[:8]
    return Person(f"ada.{tag}@example.org", f"ada-{tag}", f"Ada Lovelace {tag}", "quiet harbour lanterns")


def mail(inbox: SmtpInbox, to: str, subject: str) -> EmailMessage:
    """The mail with this subject to this address, once it has arrived."""

    def found() -> EmailMessage | None:
        return next((m for m in list(inbox.messages) if m["To"] == to and m["Subject"] == subject), None)

    wait_for(lambda: found() is not None, timeout=30)
    message = found()
    assert message is not None
    return message


def link_in(message: EmailMessage, app_url: str, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(app_url)}/{path}\?token=[\w%.~-]+", body.get_content())
    assert match, body.get_content()
    return match.group(0)


def session_cookie(context: BrowserContext) -> Any:
    return next((cookie for cookie in context.cookies() if cookie["name"] == COOKIE), None)


def register(tab: Tab, app_url: str, person: Person) -> None:
    page = tab.page
    tab.visit(f"{app_url}/register")
    expect_heading(page, "Create your account")
    page.get_by_label("Email", exact=True).fill(person.email)
    page.get_by_label("Username", exact=True).fill(person.username)
    page.get_by_label("Name", exact=True).fill(person.name)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_label("Repeat the password", exact=True).fill(person.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Welcome, {person.name}! We sent a link to")).to_be_visible()


def submit_sign_in(tab: Tab, app_url: str, login: str, password: str) -> None:
    """A fresh session on the sign-in page, one attempt (each attempt's outcome is then unambiguous)."""
    page = tab.page
    tab.visit(f"{app_url}/sign-in")
    expect_heading(page, "Sign in")
    page.get_by_label("Username or email", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(tab: Tab, app_url: str, login: str, password: str) -> None:
    """Sign in and wait until the session cookie is written (a reload then stays signed in)."""
    submit_sign_in(tab, app_url, login, password)
    expect_heading(tab.page, "Generate")
    expect(tab.page.get_by_text("Signed in as")).to_be_visible()
    wait_for(lambda: session_cookie(tab.page.context) is not None, timeout=20)
    tab.settle()


def expect_heading(page: Page, name: str) -> None:
    """The page's one heading `name` (during a rerun the previous run's copy may linger until it ends)."""
    heading = page.get_by_role("heading", name=name)
    expect(heading.first).to_be_visible()
    expect(heading).to_have_count(1)  # not strict, and retried: waits out a rerun's stale copy


def expect_signed_out(page: Page) -> None:
    expect_heading(page, "the studio")
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert sidebar_links(page) == SIGNED_OUT_LINKS


def alert_text(page: Page) -> str:
    """The text of the page's one message box (without its icon's ligature)."""
    alert = page.locator('[data-testid="stAlert"]')
    expect(alert).to_have_count(1)
    return alert.locator('[data-testid="stMarkdownContainer"]').inner_text().strip()


def test_register_verify_sign_in_out_and_reset_the_password(
    app: AccountsApp, tab: Tab, artifacts: Path
) -> None:
    url, person, page = app.url, new_person(), tab.page
    tab.visit(f"{url}/sign-in")
    expect_heading(page, "Sign in")
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    expect(page.get_by_role("button", name="Continue as demo user")).to_have_count(0)  # not embedded mode
    shoot(page, artifacts, "accounts-sign-in.png")

    register(tab, url, person)
    shoot(page, artifacts, "accounts-register.png")
    verify = link_in(
        mail(app.inbox, person.email, "Confirm your email address for the studio"), url, "verify-email"
    )
    tab.visit(verify)
    expect(page.get_by_text(f"{person.email} is confirmed")).to_be_visible()
    expect(page).not_to_have_url(re.compile("token="))  # used up, and out of the address bar
    shoot(page, artifacts, "accounts-verified.png")

    sign_in(tab, url, person.username, person.password)
    expect(page.get_by_text(f"Signed in as {person.name}")).to_be_visible()
    tab.reload()
    expect_heading(page, "Generate")
    expect(page.get_by_text(f"Signed in as {person.name}")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect_signed_out(page)
    wait_for(lambda: session_cookie(page.context) is None, timeout=20)
    tab.reload()
    expect_signed_out(page)

    tab.visit(verify)  # the same link again
    expect(page.get_by_text("This link has already been used.")).to_be_visible()

    tab.visit(f"{url}/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    expect_heading(page, "Reset your password")
    tab.settle()
    page.get_by_label("The email address of your account").fill(person.email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("If that address has an account, a link to reset its password")).to_be_visible()
    reset = link_in(
        mail(app.inbox, person.email, "Reset your password for the studio"), url, "reset-password"
    )
    tab.visit(reset)
    expect_heading(page, "Choose a new password")
    new_password = "violet tide seventeen"
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat it", exact=True).fill(new_password)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_text("Your password is changed and every session was signed out.")).to_be_visible()

    submit_sign_in(tab, url, person.username, person.password)
    expect(page.get_by_text(WRONG_CREDENTIALS)).to_be_visible()
    sign_in(tab, url, person.username, new_password)


def test_a_copied_cookie_ends_when_the_password_changes(
    app: AccountsApp, browser: Browser, artifacts: Path
) -> None:
    url, person = app.url, new_person()
    with opened_tab(browser) as a, opened_tab(browser) as b:
        register(a, url, person)
        sign_in(a, url, person.username, person.password)
        b.page.context.add_cookies([session_cookie(a.page.context)])
        b.visit(url)
        expect_heading(b.page, "Generate")
        expect(b.page.get_by_text(f"Signed in as {person.name}")).to_be_visible()

        a.page.locator('[data-testid="stSidebarNav"] a', has_text="Account").click()
        expect_heading(a.page, f"Welcome, {person.name}")
        a.settle()
        shoot(a.page, artifacts, "accounts-profile.png")
        a.page.get_by_role("tab", name="Password & sessions").click()
        new_password = "amber kestrel morning"
        a.page.get_by_label("Current password", exact=True).fill(person.password)
        a.page.get_by_label("New password", exact=True).fill(new_password)
        a.page.get_by_label("Repeat the new password", exact=True).fill(new_password)
        a.page.get_by_role("button", name="Change password").click()
        changed = "Your password is changed. Every other session was signed out."
        expect(a.page.get_by_text(changed)).to_be_visible()

        b.reload()
        expect_signed_out(b.page)
        wait_for(lambda: session_cookie(b.page.context) is None, timeout=20)
        a.settle()
        a.reload()
        expect(a.page.get_by_role("heading", name=f"Welcome, {person.name}")).to_be_visible()
        expect(a.page.get_by_text(f"Signed in as {person.name}")).to_be_visible()


def test_wrong_passwords_lock_the_account(app: AccountsApp, tab: Tab, artifacts: Path) -> None:
    url, person, page = app.url, new_person(), tab.page
    register(tab, url, person)

    submit_sign_in(tab, url, f"nobody-{uuid.uuid4().hex[:8]}", person.password)
    unknown = alert_text(page)
    submit_sign_in(tab, url, person.username, "not the password")
    assert alert_text(page) == unknown == WRONG_CREDENTIALS  # an unknown name is told nothing more

    for _ in range(2):  # LOGIN_MAX_FAILURES=3: the third wrong password locks the account
        submit_sign_in(tab, url, person.username, "still not the password")
        assert alert_text(page) == WRONG_CREDENTIALS
    submit_sign_in(tab, url, person.username, person.password)  # even the right one, while locked
    locked = re.compile(
        r"^Too many failed sign-ins\. For your safety, try again in 15 minutes, or reset your"
    )
    expect(page.locator('[data-testid="stAlert"] [data-testid="stMarkdownContainer"]')).to_have_text(locked)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    shoot(page, artifacts, "accounts-lockout.png")
