"""The account pages in Streamlit's AppTest: sign-up, sign-in and out, forgot and reset, the Account page.

Embedded services; mails land in the outbox, where the tests read the links.
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from streamlit.testing.v1 import AppTest

from studio.adapters.mail import OutboxMailer
from studio.services.accounts import profile, sessions, signin, signup, two_factor
from studio.services.context import Services
from studio.ui.shell import session
from tests.support.apptest import ADMIN_PAGE, home, registered, titles
from tests.support.builders import signed_up
from tests.support.env import ROOT, wait_for
from tests.support.services import embedded_settings, installed

PASSWORD = "correct horse battery"


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Services]:
    with installed(embedded_settings(tmp_path / "data", login_max_failures=3)) as services:
        yield services


def outbox_link(services: Services, subject: str, path: str) -> str:
    mailer = services.mailer
    assert isinstance(mailer, OutboxMailer)

    def found() -> list[str]:
        return [m.text for m in mailer.messages() if subject in m.subject]

    wait_for(lambda: bool(found()))
    match = re.search(rf"/{path}\?token=([\w-]+)", found()[0])
    assert match, found()[0]
    return match.group(1)


def fill(app: AppTest, values: dict[str, str]) -> None:
    for label, value in values.items():
        next(field for field in app.text_input if field.label == label).input(value)


def press(app: AppTest, label: str) -> AppTest:
    next(button for button in app.button if button.label == label).click().run()
    assert not app.exception, app.exception
    return app


def errors(app: AppTest) -> list[str]:
    return [error.value for error in app.error]


def register_page() -> AppTest:
    app = home()
    app.switch_page("pages/register.py").run()
    return app


def sign_in(app: AppTest, login: str, password: str) -> AppTest:
    app.switch_page("pages/sign_in.py").run()
    fill(app, {"Username or email": login, "Password": password})
    return press(app, "Sign in")


def new_account(services: Services, name: str = "ada", *, verified: bool = True) -> uuid.UUID:
    account = signed_up(services, name, PASSWORD)
    if verified:
        signup.verify_email(services, outbox_link(services, "Confirm", "verify-email"))
    return account.id


def test_register_then_verify_then_sign_in(studio: Services) -> None:
    app = register_page()
    fill(
        app,
        {
            "Email": "ada@example.org",
            "Username": "ada",
            "Name": "Ada Lovelace",
            "Password": PASSWORD,
            "Repeat the password": PASSWORD,
        },
    )
    press(app, "Create account")
    assert "We sent a link to **ada@example.org**" in app.success[0].value.replace("\\", "")
    token = outbox_link(studio, "Confirm", "verify-email")
    verify = home()
    verify.query_params["token"] = token
    verify.switch_page("pages/verify_email.py").run()
    assert "is confirmed" in verify.success[0].value
    signed_in = sign_in(home(), "ada", PASSWORD)
    assert titles(signed_in) == ["Generate"]
    assert signed_in.session_state["account"].email_verified


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Email": "ada@"}, "That is not an email address; it should look like name@example.com."),
        ({"Password": "weak", "Repeat the password": "weak"}, "A password has at least 10 characters."),
        ({"Name": "x" * 10_000}, "A name has at most 200 characters; this one has 10,000."),
        ({"Repeat the password": "something else"}, "The two passwords are not the same."),
    ],
)
def test_register_explains_each_problem(studio: Services, fields: dict[str, str], message: str) -> None:
    app = register_page()
    good = {
        "Email": "ada@example.org",
        "Username": "ada",
        "Name": "Ada",
        "Password": PASSWORD,
        "Repeat the password": PASSWORD,
    }
    fill(app, good | fields)
    press(app, "Create account")
    assert errors(app) == [message]
    assert not app.success


def test_register_refuses_a_duplicate_email_and_username(studio: Services) -> None:
    new_account(studio, verified=False)
    app = register_page()
    fill(
        app,
        {
            "Email": "ADA@example.org",
            "Username": "Ada",
            "Name": "Ada",
            "Password": PASSWORD,
            "Repeat the password": PASSWORD,
        },
    )
    press(app, "Create account")
    assert errors(app) == [
        "That email address already has an account: sign in, or reset your password.",
        "That username is taken; choose another.",
    ]


def test_sign_in_failures_read_the_same_then_lock(studio: Services) -> None:
    new_account(studio)
    app = sign_in(home(), "ada", "wrong password!")
    assert errors(app) == [signin.WRONG_CREDENTIALS]
    assert sign_in(app, "nobody", "wrong password!").error[0].value == signin.WRONG_CREDENTIALS
    sign_in(app, "ada", "wrong password!")
    sign_in(app, "ada", "wrong password!")
    locked = sign_in(app, "ada", PASSWORD)
    assert re.fullmatch(
        r"Too many failed sign-ins\. For your safety, try again in \d+ minutes, or reset your password\.",
        locked.error[0].value,
    )
    assert locked.session_state["account"] is None


def test_sign_in_then_sign_out(studio: Services) -> None:
    new_account(studio)
    app = sign_in(home(), "ADA@example.org", PASSWORD)
    assert titles(app) == ["Generate"]
    assert app.session_state["authentication_status"]  # streamlit-authenticator's own state agrees
    assert app.session_state["username"] == "ada"
    app.button(key="sign_out").click().run()
    assert app.session_state["account"] is None
    assert not app.session_state["authentication_status"]
    assert not registered(app, "pages/generate.py")


def test_forgot_and_reset_password(studio: Services) -> None:
    new_account(studio)
    app = home()
    app.switch_page("pages/forgot_password.py").run()
    fill(app, {"The email address of your account": "nobody@example.org"})
    press(app, "Send me a link")
    same_message = app.success[0].value
    fill(app, {"The email address of your account": "ada@example.org"})
    press(app, "Send me a link")
    assert app.success[0].value == same_message
    token = outbox_link(studio, "Reset your password", "reset-password")

    reset = home()
    reset.query_params["token"] = token
    reset.switch_page("pages/reset_password.py").run()
    fill(reset, {"New password": "short", "Repeat it": "short"})
    press(reset, "Set the new password")
    assert errors(reset) == ["A password has at least 10 characters."]
    fill(reset, {"New password": "staple moon river seven", "Repeat it": "staple moon river seven"})
    press(reset, "Set the new password")
    assert "Your password is changed" in reset.success[0].value
    assert sign_in(home(), "ada", "staple moon river seven").session_state["account"] is not None

    again = home()
    again.query_params["token"] = token
    again.switch_page("pages/reset_password.py").run()
    assert "already been used" in again.error[0].value
    assert not again.text_input  # no form for a used link


def test_a_forged_reset_link_shows_no_form(studio: Services) -> None:
    app = home()
    app.query_params["token"] = "forged-token"
    app.switch_page("pages/reset_password.py").run()
    assert "not valid" in app.error[0].value
    assert not app.text_input


def account_page(services: Services) -> AppTest:
    new_account(services)
    app = sign_in(home(), "ada", PASSWORD)
    app.switch_page("pages/home.py").run()
    assert not app.exception, app.exception
    return app


def test_change_password_keeps_this_session_and_ends_the_others(studio: Services) -> None:
    new_account(studio)
    other = sign_in(home(), "ada", PASSWORD)
    app = sign_in(home(), "ada", PASSWORD)
    app.switch_page("pages/home.py").run()
    fill(app, {"Current password": "not my password", "New password": "x", "Repeat the new password": "x"})
    press(app, "Change password")
    assert "Your current password is not right." in errors(app)
    fill(
        app,
        {
            "Current password": PASSWORD,
            "New password": "staple moon river seven",
            "Repeat the new password": "staple moon river seven",
        },
    )
    press(app, "Change password")
    assert "Every other session was signed out" in app.success[0].value
    app.run()
    assert app.session_state["account"] is not None  # this session stays
    other.run()
    assert other.session_state["account"] is None  # the other one is signed out, and told why
    assert "a new password" in other.info[0].value


def test_sign_out_everywhere(studio: Services) -> None:
    app = account_page(studio)
    press(app, "Sign out everywhere")
    assert app.session_state["account"] is None


def test_profile_validation(studio: Services) -> None:
    app = account_page(studio)
    name_field = next(field for field in app.text_input if field.label == "Name")
    name_field.input("n" * 10_000)
    press(app, "Save name")
    assert "A name has at most 200 characters; this one has 10,000." in errors(app)
    new_account(studio, "bob", verified=False)
    fill(app, {"New email address": "bob@example.org", "Your password": PASSWORD})
    press(app, "Change email")
    assert "That email address already has an account: sign in, or reset your password." in errors(app)
    fill(app, {"New email address": "not an email", "Your password": PASSWORD})
    press(app, "Change email")
    assert "That is not an email address; it should look like name@example.com." in errors(app)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def test_avatars_are_real_images_resized_into_storage(studio: Services) -> None:
    user_id = new_account(studio)
    with pytest.raises(Exception, match="not a picture"):
        profile.set_avatar(studio, user_id, b"%PDF-1.4 not an image")
    with pytest.raises(Exception, match="at most 5 MB"):
        profile.set_avatar(studio, user_id, b"\0" * (5 * 1024 * 1024 + 1))
    account = profile.set_avatar(studio, user_id, png(1200, 800))
    assert account.avatar_key is not None
    with PILImage.open(io.BytesIO(studio.storage.get(account.avatar_key))) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))
    replaced = profile.set_avatar(studio, user_id, png(300, 300))
    assert not studio.storage.exists(account.avatar_key)  # the old one is gone
    assert replaced.avatar_key
    assert studio.storage.exists(replaced.avatar_key)


def test_a_decompression_bomb_is_refused_before_decoding(studio: Services) -> None:
    user_id = new_account(studio)
    out = io.BytesIO()
    PILImage.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 MP in a few kB
    with pytest.raises(Exception, match="under 40 megapixels"):
        profile.set_avatar(studio, user_id, out.getvalue())


def test_a_signed_in_user_cannot_reach_an_admin_page(studio: Services) -> None:
    new_account(studio)
    app = sign_in(home(), "ada", PASSWORD)
    assert not registered(app, ADMIN_PAGE)


GOOGLE = {"iss": "https://accounts.google.com", "email_verified": True, "is_logged_in": True}


def test_single_sign_on_creates_an_account_without_a_password(studio: Services) -> None:
    app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    app.user = GOOGLE | {"sub": "g-1", "email": "Grace@Example.org", "name": "Grace Hopper"}
    app.run()
    assert not app.exception, app.exception
    account = app.session_state["account"]
    assert (account.email, account.username, account.name) == ("grace@example.org", "grace", "Grace Hopper")
    assert account.email_verified
    assert not account.has_password
    assert titles(app) == ["Generate"]
    app.run()  # the same identity keeps the same account
    assert app.session_state["account"].id == account.id


def test_single_sign_on_links_a_verified_address_to_the_existing_account(studio: Services) -> None:
    user_id = new_account(studio)
    app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    app.user = GOOGLE | {"sub": "g-2", "email": "ada@example.org", "name": "Ada"}
    app.run()
    assert app.session_state["account"].id == user_id
    unverified = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    unverified.user = GOOGLE | {"sub": "other", "email": "ada@example.org", "email_verified": False}
    unverified.run()
    assert unverified.session_state["account"] is None
    assert "cannot be linked" in unverified.info[0].value


def test_single_sign_on_after_sign_out_everywhere_needs_a_fresh_sign_in(studio: Services) -> None:
    app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    app.user = GOOGLE | {"sub": "g-3", "email": "lin@example.org", "iat": time.time() - 60}
    app.run()
    sessions.sign_out_everywhere(studio, app.session_state["account"].id)
    stale = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    stale.user = GOOGLE | {"sub": "g-3", "email": "lin@example.org", "iat": time.time() - 60}
    stale.run()
    assert stale.session_state["account"] is None
    assert stale.user == {"is_logged_in": False}  # st.logout() was called


def test_an_idle_session_is_signed_out(studio: Services) -> None:
    new_account(studio)
    app = sign_in(home(), "ada", PASSWORD)
    state = app.session_state["studio.session"]
    idle = studio.settings.session_idle_minutes * 60
    app.session_state["studio.session"] = dataclasses.replace(state, last_seen=state.last_seen - idle - 1)
    app.run()
    assert app.session_state["account"] is None
    assert (
        "without activity" in app.info[0].value
        or "without activity" in app.session_state["studio.session_notice"]
    )


def test_session_cookies_are_checked_by_signature_and_expiry() -> None:
    key, now = session.cookie_key("k" * 48), time.time()  # 64 hex characters, as the app derives it
    good = jwt.encode({"username": "ada", "exp_date": now + 60}, key, algorithm="HS256")
    username, issued = session.decode_cookie(good, key, 600, now) or ("", None)
    assert username == "ada"
    assert issued is not None
    assert abs(issued.timestamp() - (now - 540)) < 1
    forged = jwt.encode(
        {"username": "admin", "exp_date": now + 60}, "another key of 32 bytes or longer", algorithm="HS256"
    )
    expired = jwt.encode({"username": "ada", "exp_date": now - 1}, key, algorithm="HS256")
    for raw in (forged, expired, good[:-2] + "xx", "not a token"):
        assert session.decode_cookie(raw, key, 600, now) is None


def test_two_factor_sign_in_asks_for_a_code(studio: Services) -> None:
    user_id = new_account(studio)
    totp = pyotp.parse_uri(two_factor.begin_enrolment(studio, user_id))
    assert isinstance(totp, pyotp.TOTP)
    codes = two_factor.confirm_enrolment(studio, user_id, totp.now())
    app = sign_in(home(), "ada", PASSWORD)
    before_code = app.session_state["account"]
    assert before_code is None  # the password alone is not enough
    assert [field.label for field in app.text_input] == [
        "Code from your authenticator app, or a recovery code"
    ]
    app.text_input(key="sign_in.code").input("000000" if totp.now() != "000000" else "111111")
    press(app, "Verify")
    assert "That code is not right" in errors(app)[0]
    app.text_input(key="sign_in.code").input(codes[0])
    press(app, "Verify")
    signed_in = app.session_state["account"]
    assert signed_in is not None
    assert signed_in.id == user_id
    assert titles(app) == ["Generate"]


def test_saved_generation_defaults_open_the_generate_page(studio: Services) -> None:
    flux_dev = "fal-ai/flux/dev"
    new_account(studio)
    app = sign_in(home(), "ada", PASSWORD)
    app.selectbox(key="gen.model").set_value(flux_dev).run()
    app.slider(key=f"gen.{flux_dev}.num_images").set_value(3)
    press(app, "Save as my defaults")
    assert not app.error
    saved = profile.defaults(studio, app.session_state["account"].id)
    assert saved is not None
    assert (saved.model, saved.params.get("num_images"), saved.prompt) == (flux_dev, 3, "")
    assert "seed" not in saved.params  # a default never locks the seed

    later = sign_in(home(), "ada", PASSWORD)  # a new session opens with them
    assert later.selectbox(key="gen.model").value == flux_dev
    assert later.slider(key=f"gen.{flux_dev}.num_images").value == 3

    later.switch_page("pages/home.py").run()  # the Account page shows them and can change the model
    assert later.selectbox[0].value == flux_dev
    later.selectbox[0].set_value("fal-ai/fast-sdxl")
    press(later, "Save")
    changed = profile.defaults(studio, app.session_state["account"].id)
    assert changed is not None
    assert (changed.model, changed.params) == ("fal-ai/fast-sdxl", {})


def test_defaults_for_a_switched_off_model_are_ignored(studio: Services) -> None:
    user_id = new_account(studio)
    profile.set_default_model(studio, user_id, "fal-ai/fast-sdxl")
    with studio.uow() as uow:
        uow.session.execute(
            sa.text("UPDATE models SET is_enabled = false WHERE endpoint_id = 'fal-ai/fast-sdxl'")
        )
        uow.commit()
    app = sign_in(home(), "ada", PASSWORD)
    assert titles(app) == ["Generate"]
    assert app.selectbox(key="gen.model").value != "fal-ai/fast-sdxl"
