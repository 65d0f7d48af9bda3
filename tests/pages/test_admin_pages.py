"""The dashboard, the Usage analytics and the admin pages in AppTest, on the embedded services with the
hand-worked seed of tests/support/admin_seed.py; and every admin page refusing a user on the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.domain.accounts import Account, Role
from studio.services.context import Services
from studio.services.generation import catalogue
from tests.support.admin_seed import DEV, seed
from tests.support.apptest import home, registered, sign_in_as, titles
from tests.support.env import ROOT
from tests.support.services import embedded_settings, installed

ADMIN_PAGES = {
    "pages/admin_analytics.py": "Analytics",
    "pages/admin_users.py": "Users",
    "pages/admin_models.py": "Models",
    "pages/admin_queue.py": "Queue",
    "pages/admin_audit.py": "Audit log",
    "pages/admin_system.py": "System",
}


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Services]:
    with installed(embedded_settings(tmp_path / "data")) as services:
        yield services


def signed_in(label: str, page: str) -> AppTest:
    app = home()
    sign_in_as(app, label)
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


@pytest.mark.parametrize("page", sorted(ADMIN_PAGES))
def test_each_admin_page_refuses_a_user_on_the_server(studio: Services, page: str) -> None:
    app = AppTest.from_file(str(ROOT / page), default_timeout=30)
    app.session_state["account"] = Account(
        id=uuid.uuid4(),
        email="u@example.org",
        username="u",
        name="U",
        role=Role.USER,
        created_at=datetime.now(UTC),
    )
    app.run()
    assert [error.value for error in app.error] == ["This page is for administrators."]
    assert titles(app) == []
    assert len(app.dataframe) == len(app.metric) == 0


def test_a_user_has_the_dashboard_and_no_admin_pages(studio: Services) -> None:
    app = signed_in("Continue as demo user", "pages/dashboard.py")
    assert titles(app) == ["Dashboard"]
    assert next(s.value for s in app.subheader) == "Welcome, Demo User"  # new: the welcome comes first
    assert metrics(app) == {
        "Images": "0",
        "Credits used this cycle": "0",
        "Credits left": "100",
        "Projects": "0",
        "Favourites": "0",
    }
    for page in ADMIN_PAGES:
        assert not registered(app, page)


def test_the_analytics_page_shows_the_hand_worked_figures(studio: Services) -> None:
    seed(studio)
    app = signed_in("Continue as demo admin", "pages/admin_analytics.py")
    assert titles(app) == ["Analytics"]
    assert metrics(app) == {
        "Active users": "2",
        "New users": "2",
        "Generations": "5",
        "Failure rate": "20.0%",
        "Refunded jobs": "40.0%",
        "Revenue": "$48.00",
        "Provider cost": "$0.16",
        "Gross margin": "99.7%",
        "Credits spent": "10",
    }
    by_model = app.dataframe[0].value
    assert list(by_model["Model"]) == ["FLUX.1 [dev]", "FLUX1.1 [pro] ultra"]
    assert list(by_model["p50"]) == ["5.0 s", "8.0 s"]
    assert list(by_model["p95"]) == ["5.9 s", "8.0 s"]
    by_plan = app.dataframe[1].value
    assert dict(zip(by_plan["Plan"], by_plan["Revenue"], strict=True)) == {
        "pro": "$29.00",
        "no plan": "$19.00",
        "free": "$0.00",
    }
    assert len(app.get("plotly_chart")) == 4
    assert app.get("download_button")
    assert not app.error


def test_the_usage_page_analytics_of_a_range(studio: Services) -> None:
    app = signed_in("Continue as demo user", "pages/usage.py")
    assert "My generations" in [s.value for s in app.subheader]
    assert metrics(app)["Generations"] == "0"
    assert "No finished generations in this range." in [i.value for i in app.info]


def test_users_page_adjusts_credits_with_a_reason(studio: Services) -> None:
    seeded = seed(studio)
    app = signed_in("Continue as demo admin", "pages/admin_users.py")
    app.text_input(key="users.search").input("alice").run()
    assert metrics(app)["Balance"] == "100"
    app.number_input(key="users.delta").set_value(-150)
    app.text_input(key="users.reason").input("too many")
    next(b for b in app.button if b.label == "Adjust credits").click().run()
    assert "The balance is 100: removing 150 would take it below zero." in [e.value for e in app.error]
    app.number_input(key="users.delta").set_value(15)
    app.text_input(key="users.reason").input("goodwill")
    next(b for b in app.button if b.label == "Adjust credits").click().run()
    assert not app.exception, app.exception
    assert metrics(app)["Balance"] == "115"
    assert "Credits adjusted by +15." in [s.value for s in app.success]
    app.switch_page("pages/admin_audit.py").run()
    log = app.dataframe[0].value
    assert list(log["Action"]) == ["credits.adjust"]
    assert list(log["Target"]) == [f"user {seeded.alice}"]
    assert list(log["Reason"]) == ["goodwill"]


def test_models_page_switches_a_model_off_and_generate_hides_it(studio: Services) -> None:
    app = signed_in("Continue as demo admin", "pages/admin_models.py")
    assert titles(app) == ["Models"]
    index = [m.endpoint_id for m in catalogue.enabled_models(studio)].index(DEV)
    app.checkbox[2 * index].uncheck()
    app.button[index].click().run()  # each model's form has one button, Save, in catalogue order
    assert not app.exception, app.exception
    assert "FLUX.1 [dev] saved." in [s.value for s in app.success]
    assert DEV not in [m.endpoint_id for m in catalogue.enabled_models(studio)]
    app.switch_page("pages/generate.py").run()
    options = [str(option) for box in app.selectbox for option in box.options]
    assert any(option.startswith("FLUX.1 [dev] with LoRA ·") for option in options)
    assert not any(option.startswith("FLUX.1 [dev] ·") for option in options)


def test_queue_page_shows_workers_and_outbox(studio: Services) -> None:
    app = signed_in("Continue as demo admin", "pages/admin_queue.py")
    assert titles(app) == ["Queue"]
    assert list(metrics(app)) == ["Queued", "Submitted", "Running", "Succeeded", "Failed", "Cancelled"]
    captions = " ".join(c.value for c in app.main.caption)
    assert "4 job threads inside the app (embedded mode)" in captions
    assert "No job is stuck." in captions
    assert "Mail outbox" in [s.value for s in app.subheader]
