"""Home.py and the pages, run by Streamlit's AppTest on the embedded services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from studio.adapters.db.models import User
from studio.adapters.mail import Email
from studio.domain.accounts import Account, Role
from studio.services.context import Services
from tests.support.apptest import ADMIN_PAGE, home, registered, sign_in_as, titles
from tests.support.env import ROOT, TEST_SECRET
from tests.support.services import embedded_settings, installed


def assert_signed_out(app: AppTest) -> None:
    """An anonymous page is shown (AppTest stays on the last page it switched to) and nothing more."""
    assert titles(app) in (["the studio"], ["Sign in"])
    assert app.session_state["account"] is None
    assert "user_id" not in app.session_state
    assert not registered(app, "pages/home.py")
    assert not registered(app, "pages/generate.py")
    assert not registered(app, ADMIN_PAGE)


def set_role(services: Services, email: str, **fields: object) -> None:
    with services.uow() as uow:
        uow.session.execute(sa.update(User).where(User.email == email).values(**fields))
        uow.commit()


def test_anonymous_visitors_see_the_welcome_and_the_ways_in_only(embedded_services: Services) -> None:
    app = home()
    assert titles(app) == ["the studio"]
    assert "Embedded mode" in app.markdown[0].value
    assert [button.label for button in app.button] == ["Sign in", "Create an account"]
    assert registered(app, "pages/sign_in.py")
    assert not registered(app, "pages/home.py")
    assert not registered(app, "pages/generate.py")
    assert not registered(app, ADMIN_PAGE)


def test_the_development_sign_in_as_a_user(embedded_services: Services) -> None:
    app = home()
    sign_in_as(app, "Continue as demo user")
    assert titles(app) == ["Generate"]  # the studio opens on its main page
    app.switch_page("pages/home.py").run()
    assert titles(app) == ["Welcome, Demo User"]
    shown = " ".join(markdown.value.replace("\\", "") for markdown in app.markdown)  # as shown, escapes read
    assert "demo@studio.local" in shown
    assert any("Signed in as **Demo User** · user" in caption.value for caption in app.sidebar.caption)
    assert not registered(app, ADMIN_PAGE)


def test_an_admin_sees_the_system_page(embedded_services: Services) -> None:
    embedded_services.mailer.send(Email(to="ada@example.org", subject="Verify your address", text="link"))
    app = home()
    sign_in_as(app, "Continue as demo admin")
    assert registered(app, ADMIN_PAGE)
    app.run()
    assert not app.exception, app.exception
    assert titles(app) == ["System"]
    assert [s.value for s in app.subheader] == [
        "Services", "Configuration", "Jobs", "Image provider", "Mail outbox"
    ]  # fmt: skip
    assert "No FAL_KEY is set" in app.info[0].value
    assert app.success[0].value == "Every service is answering."
    health = app.dataframe[0].value
    assert list(health["Service"]) == ["Database", "Queue", "Storage"]
    assert set(health["Status"]) == {"up"}
    assert [metric.label for metric in app.metric] == ["Queued", "Running", "Failed"]
    assert "4 job threads in the app alive" in [caption.value for caption in app.main.caption]
    assert "Verify your address" in app.expander[0].label


def test_signing_out_returns_to_the_welcome(embedded_services: Services) -> None:
    app = home()
    sign_in_as(app, "Continue as demo admin")
    app.button(key="sign_out").click().run()
    assert_signed_out(app)


def test_a_demoted_admin_loses_the_admin_pages_on_the_next_run(embedded_services: Services) -> None:
    app = home()
    sign_in_as(app, "Continue as demo admin")
    set_role(embedded_services, "admin@studio.local", role="user")
    app.run()
    assert not registered(app, ADMIN_PAGE)


def test_a_disabled_account_is_signed_out_on_the_next_run(embedded_services: Services) -> None:
    app = home()
    sign_in_as(app, "Continue as demo user")
    set_role(embedded_services, "demo@studio.local", disabled_at=datetime.now(UTC))
    app.run()
    assert_signed_out(app)


@pytest.mark.parametrize("account", [None, "user"])
def test_the_system_page_itself_refuses_non_admins(embedded_services: Services, account: str | None) -> None:
    """Even run directly (no navigation in front of it), the page shows nothing of the system."""
    app = AppTest.from_file(str(ROOT / ADMIN_PAGE), default_timeout=30)
    if account:
        app.session_state["account"] = Account(
            id=uuid.uuid4(), email="u@example.org", username="u", name="U", role=Role.USER,
            created_at=datetime.now(UTC),
        )  # fmt: skip
    app.run()
    assert [error.value for error in app.error] == ["This page is for administrators."]
    assert titles(app) == []
    assert len(app.dataframe) == 0


@pytest.fixture
def production_like(tmp_path: Path) -> Iterator[Services]:
    """Not embedded (mail over SMTP), so the development sign-in is off."""
    with installed(
        embedded_settings(tmp_path / "data", smtp_host="127.0.0.1", secret_key=TEST_SECRET)
    ) as services:
        yield services


def test_outside_embedded_mode_there_is_no_development_sign_in(production_like: Services) -> None:
    app = home()
    assert "Production mode" in app.markdown[0].value
    app.switch_page("pages/sign_in.py").run()
    assert [button.label for button in app.button if "demo" in button.label] == []
    assert [field.label for field in app.text_input] == ["Username or email", "Password"]
    assert [button.label for button in app.button] == ["Sign in"]  # the form's own button only
