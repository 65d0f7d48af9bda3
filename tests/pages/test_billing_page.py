"""AppTest of the Plans and billing page: payments off (admins assign plans), and payments on against
localstripe: Choose → a link to Stripe Checkout → paid → back on the page with ?checkout=<id>."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from studio.adapters.db.models import AuditLog, Plan, Subscription, User
from studio.domain.accounts import Role
from studio.errors import Forbidden, InvalidForm
from studio.services.accounts import demo
from studio.services.admin import plans
from studio.services.context import Services
from tests.support.apptest import home, registered, sign_in_as, titles
from tests.support.builders import demo_user
from tests.support.services import embedded_settings, installed
from tests.support.stripe_fake import API_KEY, WEBHOOK_SECRET, Localstripe

PAGE = "pages/billing.py"
ADMIN_PLANS = "pages/admin_plans.py"


def billing_page() -> AppTest:
    app = home()
    sign_in_as(app, "Continue as demo user")
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    assert titles(app) == ["Plans and billing"]
    return app


def buttons(app: AppTest) -> list[str]:
    return [button.label for button in app.button]


def link_buttons(app: AppTest) -> dict[str, str]:
    return {element.proto.label: element.proto.url for element in app.get("link_button")}


@pytest.fixture
def shop(tmp_path: Path, stripe_api: Localstripe) -> Iterator[Services]:
    """Embedded mode with payments on (Stripe alone keeps the rest embedded)."""
    settings = embedded_settings(
        tmp_path / "data",
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_api.base,
        stripe_price_pro=stripe_api.price("pro", 2900),
        stripe_price_studio=stripe_api.price("studio", 5900),
    )
    with installed(settings) as services:
        yield services


def test_with_payments_off_the_page_shows_the_plans_and_who_assigns_them(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")):
        app = billing_page()
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics == {"Plan": "Free", "Credits each cycle": "100", "Renews on": metrics["Renews on"]}
        assert "Payments are off on this installation: an administrator assigns plans." in [
            info.value for info in app.info
        ]
        markdown = " ".join(element.value for element in app.markdown)
        for price in ("$0 / month", "$19 / month", "$29 / month", "$59 / month"):
            assert price in markdown
        assert not [label for label in buttons(app) if label.startswith("Choose")]
        assert "Manage billing" not in buttons(app)


def test_choose_opens_checkout_and_the_return_applies_the_plan(
    shop: Services, stripe_api: Localstripe
) -> None:
    app = billing_page()
    user_id = demo_user(shop)
    # Starter has no Stripe price here: it is shown, not sold.
    assert [label for label in buttons(app) if label.startswith("Choose")] == ["Choose Pro", "Choose Studio"]
    next(button for button in app.button if button.label == "Choose Pro").click().run()
    assert not app.exception, app.exception
    [(label, url)] = link_buttons(app).items()
    assert label == "Continue to secure checkout"
    assert url.startswith(stripe_api.base + "/pay/cs_test_")
    session_id = url.rsplit("/", 1)[1]
    stripe_api.pay(session_id)

    app.query_params["checkout"] = session_id
    app.run()
    assert not app.exception, app.exception
    assert [success.value for success in app.success] == [
        "Thank you: your plan is active and its credits are in your account."
    ]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert (metrics["Plan"], metrics["Credits each cycle"]) == ("Pro", "500")
    with shop.uow() as uow:
        assert uow.session.scalar(sa.select(User.credit_balance).where(User.id == user_id)) == 500
    assert not [label for label in buttons(app) if label.startswith("Choose")]
    next(button for button in app.button if button.label == "Manage billing").click().run()
    assert link_buttons(app)["Open the billing portal"].startswith(stripe_api.base + "/portal/cus_")


def test_a_forged_return_is_refused(shop: Services, stripe_api: Localstripe) -> None:
    app = billing_page()
    app.query_params["checkout"] = "cs_test_not_yours"
    app.run()
    assert [error.value for error in app.error] == ["This checkout is not one of yours."]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Plan"] == "Free"


# --- admins change plans ----------------------------------------------------------------------------------


def test_admins_change_a_plan_with_an_audit_row(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        app = home()
        sign_in_as(app, "Continue as demo admin")
        app.switch_page(ADMIN_PLANS).run()
        assert titles(app) == ["Plan catalogue"]
        [table] = app.dataframe
        assert list(table.value["Margin at worst"]) == ["—", "60.5%", "56.9%", "57.6%"]
        # The second form is Starter's (the plans are listed free, starter, pro, studio).
        [number for number in app.number_input if number.label == "Credits per month"][1].set_value(350)
        reasons = [text for text in app.text_input if text.label == "Reason (for the audit log)"]
        reasons[1].set_value("more credits for the same price")
        [button for button in app.button if button.label == "Save"][1].click().run()
        assert not app.exception, app.exception
        assert not app.error, [error.value for error in app.error]
        assert [success.value for success in app.success] == [
            "Starter saved: accounts get its credits from their next cycle."
        ]
        with services.uow() as uow:
            [(before, after, reason)] = uow.session.execute(
                sa.select(AuditLog.before, AuditLog.after, AuditLog.reason).where(
                    AuditLog.action == "plan.update"
                )
            )
        assert ((before or {})["monthly_credits"], (after or {})["monthly_credits"]) == (300, 350)
        assert reason == "more credits for the same price"


def test_plan_changes_are_checked_and_refused_to_users(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        admin = demo.sign_in_demo(services, Role.ADMIN)
        user = demo.sign_in_demo(services, Role.USER)
        with pytest.raises(Forbidden):
            plans.plan_rows(services, user)
        with pytest.raises(InvalidForm) as refused:
            plans.update_plan(
                services, admin, "free", name="Free", monthly_credits=100, price_cents=500,
                stripe_price_id=None, is_active=True, reason="",
            )  # fmt: skip
        assert refused.value.problems == [
            "The free plan stays free, active and not for sale: new accounts start on it.",
            "Say why: the reason goes into the audit log.",
        ]
        with pytest.raises(InvalidForm, match="price id"):
            plans.update_plan(
                services, admin, "pro", name="Pro", monthly_credits=500, price_cents=2900,
                stripe_price_id="<script>", is_active=True, reason="typo",
            )  # fmt: skip
        app = home()
        sign_in_as(app, "Continue as demo user")
        assert not registered(app, ADMIN_PLANS)


def test_a_failed_payment_shows_a_banner_on_generate_and_usage(tmp_path: Path) -> None:
    with installed(embedded_settings(tmp_path / "data")) as services:
        app = home()
        sign_in_as(app, "Continue as demo user")
        user_id = demo_user(services)
        with services.uow() as uow:
            pro = uow.session.scalar(sa.select(Plan.id).where(Plan.code == "pro"))
            uow.session.execute(
                sa.update(Subscription)
                .where(Subscription.user_id == user_id)
                .values(plan_id=pro, stripe_subscription_id="sub_test", payment_failed_at=sa.func.now())
            )
            uow.commit()
        for page in ("pages/generate.py", "pages/usage.py", PAGE):
            app.switch_page(page).run()
            assert not app.exception, app.exception
            banners = [warning.value for warning in app.warning]
            assert any("Your last payment for the Pro plan failed" in banner for banner in banners), page
