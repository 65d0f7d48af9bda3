"""Usage: this cycle's figures from the ledger on a seeded account, the 80 % / 100 % alerts once per cycle,
and the Usage page in AppTest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import time_machine
from streamlit.testing.v1 import AppTest

from studio.adapters.mail import OutboxMailer
from studio.services.billing import plans, usage
from studio.services.context import Services
from tests.support.apptest import home, titles
from tests.support.builders import charge, demo_user, new_user
from tests.support.env import wait_for
from tests.support.services import embedded_settings, installed

START = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def test_this_cycles_usage_by_day_and_by_model(studio: Services) -> None:
    with time_machine.travel(START, tick=False) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        charge(studio, user_id, "fal-ai/flux/dev", 4)
        charge(studio, user_id, "fal-ai/flux-pro/v1.1-ultra", 3, refunded=3)  # failed: all returned
        clock.move_to(datetime(2027, 3, 12, 8, 0, tzinfo=UTC))
        charge(studio, user_id, "fal-ai/flux-pro/v1.1-ultra", 6)
        charge(studio, user_id, "fal-ai/flux/dev", 2)
        found = usage.usage(studio, user_id)
    assert found is not None
    assert (found.plan, found.granted, found.used, found.left) == ("Free", 100, 12, 88)
    assert found.renews_at == datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
    assert found.per_day[:3] == [(date(2027, 3, 10), 4), (date(2027, 3, 11), 0), (date(2027, 3, 12), 8)]
    assert [day for day, _ in found.per_day][-1] == date(2027, 4, 9)  # the whole cycle, to the day before
    assert sum(amount for _, amount in found.per_day[3:]) == 0
    assert found.per_model == [("FLUX.1 [dev]", 6), ("FLUX1.1 [pro] ultra", 6)]  # ties by name
    assert sorted(line.kind for line in found.history) == ["grant", "refund"] + ["reserve"] * 4


def test_the_alerts_go_out_once_per_level_and_cycle(studio: Services) -> None:
    mailer = studio.mailer
    assert isinstance(mailer, OutboxMailer)
    studio.queue.start()
    with time_machine.travel(START, tick=True) as clock:
        user_id = new_user(studio, "ada", verified=False, free_plan=True)
        charge(studio, user_id, "fal-ai/flux/dev", 79)
        assert usage.alert_if_due(studio, user_id) is None
        charge(studio, user_id, "fal-ai/flux/dev", 1)
        assert usage.alert_if_due(studio, user_id) == 80
        assert usage.alert_if_due(studio, user_id) is None  # once
        charge(studio, user_id, "fal-ai/flux/dev", 20)
        assert usage.alert_if_due(studio, user_id) == 100
        wait_for(lambda: len(mailer.messages()) == 2)
        subjects = sorted(m.subject for m in mailer.messages())
        assert subjects == ["You have used 80 % of your credits for this month",
                            "You have used all your credits for this month"]  # fmt: skip
        clock.move_to(datetime(2027, 4, 10, 12, 1, tzinfo=UTC))  # a new cycle: the levels start again
        assert plans.renew_if_due(studio, user_id)
        charge(studio, user_id, "fal-ai/flux/dev", 85)
        assert usage.alert_if_due(studio, user_id) == 80


def signed_in_usage_page(services: Services) -> AppTest:
    app = home()
    app.switch_page("pages/sign_in.py").run()
    next(b for b in app.button if b.label == "Continue as demo user").click().run()
    app.switch_page("pages/usage.py").run()
    assert not app.exception, app.exception
    return app


def test_the_usage_page_shows_the_cycle_the_charts_and_the_ledger(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        app = signed_in_usage_page(services)
        user_id = demo_user(services)
        charge(services, user_id, "fal-ai/flux/dev", 5)
        app.run()
        assert titles(app) == ["Usage"]
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics["Plan"] == "Free"
        assert metrics["Credits left"] == "95"
        assert metrics["Used this cycle"] == "5 of 100"
        assert len(app.get("plotly_chart")) == 2
        ledger = app.dataframe[0].value
        assert list(ledger["What"]) == ["Held for a job", "Plan credits"]
        assert list(ledger["Credits"]) == [-5, 100]
        assert not app.error


def test_at_zero_credits_the_page_says_when_they_renew(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        app = signed_in_usage_page(services)
        charge(services, demo_user(services), "fal-ai/flux/dev", 100)
        app.run()
        assert "You have used all 100 credits of this cycle" in app.error[0].value
        assert "upgrade your plan, or wait until" in app.error[0].value
        assert [link.proto.label for link in app.get("page_link")] == ["See plans and upgrade"]
