"""The Generate page, run by Streamlit's AppTest on the embedded services (demo provider, in-process jobs)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from studio.adapters.db.models import GenerationJob, Subscription
from studio.adapters.storage import LocalStorage
from studio.domain.catalogue import PROMPT_MAX_CHARS
from studio.domain.credits import LedgerKind
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation import submissions, views
from studio.services.generation.catalogue import sync_catalogue
from studio.ui.generation.generate_jobs import DEMO_NOTE
from tests.support.apptest import home, sign_in_as, titles
from tests.support.env import wait_for
from tests.support.services import embedded_settings, installed

FLUX_DEV = "fal-ai/flux/dev"
ULTRA = "fal-ai/flux-pro/v1.1-ultra"
SDXL = "fal-ai/fast-sdxl"
LIGHTNING = "rundiffusion-fal/juggernaut-flux/lightning"


@pytest.fixture
def held_jobs(tmp_path: Path) -> Iterator[Services]:
    """Embedded services whose job runner is not started: accepted jobs stay queued until cancelled."""
    with installed(embedded_settings(tmp_path / "data"), start=False) as services:
        services.database.migrate()
        sync_catalogue(services)
        yield services


def signed_in() -> AppTest:
    app = home()
    sign_in_as(app, "Continue as demo user")
    assert titles(app) == ["Generate"]
    return app


def account_id(app: AppTest) -> uuid.UUID:
    account_id: uuid.UUID = app.session_state["account"].id
    return account_id


def pick(app: AppTest, endpoint: str) -> None:
    app.selectbox(key="gen.model").set_value(endpoint).run()
    assert not app.exception, app.exception


def key(endpoint: str, name: str) -> str:
    return f"gen.{endpoint}.{name}"


def labels(app: AppTest) -> set[str]:
    widgets: list[Any] = [
        *app.selectbox, *app.slider, *app.toggle, *app.number_input, *app.text_area, *app.text_input,
    ]  # fmt: skip
    return {widget.label for widget in widgets}


def button(app: AppTest, label: str) -> Button:
    return next(found for found in app.button if found.label == label)


def generate(app: AppTest, prompt: str) -> None:
    app.text_area(key="gen.prompt").input(prompt)
    button(app, "Generate").click().run()
    assert not app.exception, app.exception


def job_rows(services: Services) -> list[sa.Row[tuple[uuid.UUID, str, dict[str, Any]]]]:
    """Every job row (id, idempotency key, provider arguments), oldest first."""
    columns = (GenerationJob.id, GenerationJob.idempotency_key, GenerationJob.params)
    with services.uow() as uow:
        return list(uow.session.execute(sa.select(*columns).order_by(GenerationJob.created_at)).all())


def granted(services: Services, url: str) -> tuple[str, str | None]:
    """The stored file (and download name) a signed file URL grants: URLs differ by their expiry."""
    assert isinstance(services.storage, LocalStorage)
    signed = services.storage.open_signed(url.rsplit("/", 1)[-1])
    return signed.path.name, signed.download_name


def badges(app: AppTest) -> list[str]:
    """The labels of the status badges (st.badge is markdown: ":green-badge[:material/x: Done]")."""
    found = [re.fullmatch(r":\w+-badge\[(?::material/\w+: )?(.*)\]", text) for text in markdown(app)]
    return [match.group(1) for match in found if match]


def markdown(app: AppTest) -> list[str]:
    return [element.value for element in app.markdown]


def test_the_model_picker_shows_cost_and_speed_and_the_cost_preview(embedded_services: Services) -> None:
    app = signed_in()
    picker = app.selectbox(key="gen.model")
    assert "FLUX.1 [dev] · 1 credit · medium" in picker.options
    assert "FLUX1.1 [pro] ultra · 3 credits · slow" in picker.options
    pick(app, FLUX_DEV)
    assert ":material/toll: Uses **1 credit** · you have 100" in markdown(app)
    app.slider(key=key(FLUX_DEV, "num_images")).set_value(3)
    button(app, "Update cost").click().run()
    assert ":material/toll: Uses **3 credits** · you have 100" in markdown(app)
    assert not job_rows(embedded_services)  # pricing reserves nothing
    assert not button(app, "Generate").disabled


@pytest.mark.parametrize(
    ("endpoint", "present", "absent"),
    [
        (ULTRA, {"Aspect ratio", "Raw", "Images", "Seed", "Safety tolerance"},
         {"Size", "Steps", "Guidance", "Negative prompt", "LoRA weights URL"}),
        (SDXL, {"Negative prompt", "Size", "Custom width", "Steps", "Guidance", "LoRA weights URL"},
         {"Aspect ratio", "Raw"}),
        (LIGHTNING, {"Size", "Steps", "Images"}, {"Guidance", "Negative prompt", "Aspect ratio"}),
        (FLUX_DEV, {"Size", "Steps", "Guidance", "Acceleration", "File format", "Safety checker"},
         {"Negative prompt", "Raw", "LoRA weights URL"}),
    ],
)  # fmt: skip
def test_the_panel_is_built_from_the_models_schema(
    embedded_services: Services, endpoint: str, present: set[str], absent: set[str]
) -> None:
    app = signed_in()
    pick(app, endpoint)
    shown = labels(app)
    assert present <= shown
    assert not absent & shown
    assert {"Prompt", "Style", "Lock seed"} <= shown
    advanced = [label for expander in app.expander for label in labels_in(expander)]
    assert ("Steps" in advanced) == ("Steps" in present)
    assert "Images" not in advanced


def labels_in(block: Any) -> list[str]:
    return [widget.label for widget in (*block.slider, *block.selectbox, *block.toggle)]


def test_switching_models_does_not_carry_values_over(embedded_services: Services) -> None:
    app = signed_in()
    pick(app, FLUX_DEV)
    app.slider(key=key(FLUX_DEV, "num_inference_steps")).set_value(40)
    button(app, "Update cost").click().run()
    pick(app, "fal-ai/flux/schnell")  # at most 12 steps
    assert app.slider(key=key("fal-ai/flux/schnell", "num_inference_steps")).value == 4
    pick(app, FLUX_DEV)
    assert app.slider(key=key(FLUX_DEV, "num_inference_steps")).value == 28


def test_invalid_settings_are_named_with_their_range(embedded_services: Services) -> None:
    app = signed_in()
    pick(app, FLUX_DEV)
    app.selectbox(key=key(FLUX_DEV, "image_size")).set_value("custom")
    app.number_input(key=key(FLUX_DEV, "width")).set_value(1001)
    generate(app, "a lighthouse")
    [error] = [element.value for element in app.error]
    assert error.startswith("Size (image_size) must be")
    assert "a width and height between 256 and 2048 in steps of 8; got width 1001" in error
    assert not job_rows(embedded_services)


def test_an_empty_prompt_is_refused_and_a_long_one_stops_at_the_limit(held_jobs: Services) -> None:
    app = signed_in()
    generate(app, "   ")
    assert [element.value for element in app.error] == ["The prompt is empty: describe the image you want"]
    assert not job_rows(held_jobs)

    prompt = app.text_area(key="gen.prompt")
    assert prompt.max_chars == PROMPT_MAX_CHARS  # the browser stops typing there, and shows the count
    prompt.set_value("x" * (PROMPT_MAX_CHARS + 500))  # a client that ignores the limit
    button(app, "Generate").click().run()
    # Streamlit cuts a text widget's value at max_chars on the server, so the service never sees more
    # (it would refuse it: "The prompt is N characters long; the limit is 2000", see the domain tests).
    [job] = job_rows(held_jobs)
    assert len(views.get_job(held_jobs, account_id(app), job.id).prompt) == PROMPT_MAX_CHARS


def test_without_enough_credits_generate_is_off_and_says_why(embedded_services: Services) -> None:
    app = signed_in()
    with embedded_services.uow() as uow:
        ledger.change_balance(uow.session, account_id(app), -100, LedgerKind.ADJUST, "test: spend all")
        uow.commit()
    app.run()
    assert button(app, "Generate").disabled
    assert not button(app, "Update cost").disabled
    [warning] = app.warning
    assert warning.proto.title == "Not enough credits"
    assert "This uses 2 credits and you have 0." in warning.value
    assert "Fewer images" not in warning.value  # nothing cheaper fits in 0 credits
    with embedded_services.uow() as uow:
        renews = uow.session.scalar(
            sa.select(Subscription.current_period_end).where(Subscription.user_id == account_id(app))
        )
    assert renews is not None
    assert f"Upgrade your plan, or wait until {renews:%d %B %Y}, when your credits renew." in warning.value
    assert [link.proto.label for link in app.get("page_link")] == ["See plans and upgrade"]


def test_a_submission_creates_one_job_per_key(held_jobs: Services) -> None:
    app = signed_in()
    first_key = app.session_state["gen.submission"]
    generate(app, "a red fox in the snow")
    [job] = job_rows(held_jobs)
    assert job.idempotency_key == first_key
    assert app.session_state["gen.submission"] != first_key  # rotated after the submission
    assert badges(app) == ["Queued", "In progress"]  # the progress panel, then the history
    assert "a red fox in the snow" in markdown(app)
    assert [button.label for button in app.button if button.key == f"gen.cancel.{job.id}"] == ["Cancel"]
    assert [button.key for button in app.button if button.label == "Recall"] == [f"gen.recall.{job.id}"]

    # A double click whose second click lands before the first run rotated the key: the same key again.
    app.session_state["gen.submission"] = first_key
    app.run()
    button(app, "Generate").click().run()
    assert [row.id for row in job_rows(held_jobs)] == [job.id]

    # A second click that arrives after the first run rotated the key comes from a render whose button
    # (keyed by the old key) no longer exists: Streamlit drops it, nothing is submitted.
    app.session_state["gen.submission"] = "rotated-by-the-first-click"
    button(app, "Generate").click().run()
    assert len(job_rows(held_jobs)) == 1

    button(app, "Generate").click().run()  # the same form on the new render at once: still that job
    assert len(job_rows(held_jobs)) == 1
    button(app, "Run again").click().run()  # another run, asked for: a new job
    rows = job_rows(held_jobs)
    assert len(rows) == 2
    assert rows[1].idempotency_key not in (first_key, rows[0].idempotency_key)


def test_cancel_a_queued_job_returns_its_credits(held_jobs: Services) -> None:
    app = signed_in()
    generate(app, "a red fox in the snow")
    [job] = job_rows(held_jobs)
    app.button(key=f"gen.cancel.{job.id}").click().run()
    assert not app.exception, app.exception
    view = views.get_job(held_jobs, account_id(app), job.id)
    assert view.status is JobStatus.CANCELLED
    assert "Cancelled before it started. Your 2 credits were returned." in [w.value for w in app.warning]
    assert submissions.balance(held_jobs, account_id(app)) == 100


def test_a_finished_job_shows_its_thumbnails_and_links(embedded_services: Services) -> None:
    app = signed_in()
    pick(app, FLUX_DEV)
    app.slider(key=key(FLUX_DEV, "num_images")).set_value(2)
    generate(app, "a red fox in the snow")
    [row] = job_rows(embedded_services)
    wait_for(lambda: views.get_job(embedded_services, account_id(app), row.id).finished, timeout=30)
    app.run()
    job = views.get_job(embedded_services, account_id(app), row.id)
    assert job.status is JobStatus.SUCCEEDED
    shown = [granted(embedded_services, image.proto.imgs[0].url) for image in app.get("image")]
    thumbs = [granted(embedded_services, image.thumb_url) for image in job.images]
    assert shown == [*thumbs, thumbs[0]]  # the panel's thumbnails (URLs, never bytes), then the history's
    links = [
        (button.proto.label, granted(embedded_services, button.proto.url))
        for button in app.get("link_button")
    ]
    pages = [(link.proto.label, link.proto.query_string) for link in app.get("page_link")]
    for image in job.images:
        assert ("Open", f"id={image.id}") in pages  # the image's page: all of it, and every way on from it
        assert ("Download", granted(embedded_services, image.download_url)) in links
    assert f":material/info: {DEMO_NOTE}" in [caption.value for caption in app.caption]
    assert badges(app) == ["Done", "Done"]


def test_recall_puts_a_past_request_back_exactly(held_jobs: Services) -> None:
    app = signed_in()
    past = Request(
        SDXL, "a *quiet* harbour", negative_prompt="people", style="Cinematic",
        params={"image_size": {"width": 1152, "height": 896}, "num_images": 2, "seed": 1234,
                "num_inference_steps": 30, "guidance_scale": 6.5, "expand_prompt": True},
    )  # fmt: skip
    job = submissions.start_generation(held_jobs, account_id(app), past, "recall-me")
    app.run()
    pick(app, ULTRA)  # somewhere else entirely first
    app.button(key=f"gen.recall.{job.id}").click().run()
    assert not app.exception, app.exception
    assert app.selectbox(key="gen.model").value == SDXL
    assert app.text_area(key="gen.prompt").value == "a *quiet* harbour"
    assert app.text_area(key=key(SDXL, "negative_prompt")).value == "people"
    assert app.selectbox(key="gen.style").value == "Cinematic"
    assert app.selectbox(key=key(SDXL, "image_size")).value == "custom"
    assert app.toggle(key=key(SDXL, "seed_locked")).value is True
    assert app.number_input(key=key(SDXL, "seed")).value == 1234
    assert [toast.value for toast in app.toast] == [
        "The job's prompt, model and settings are back in the form, with its seed locked."
    ]

    button(app, "Generate").click().run()  # the recalled form sends the provider the very same body
    assert not app.error
    first, again = job_rows(held_jobs)
    assert first.id == job.id
    assert again.params == first.params
    assert again.params["seed"] == 1234
    assert again.params["image_size"] == {"width": 1152, "height": 896}


def test_a_prompt_is_shown_as_typed_never_as_markdown(held_jobs: Services) -> None:
    app = signed_in()
    hostile = "**loud** [click](https://evil.example) :red[x]"
    generate(app, hostile)
    rendered = [text for text in markdown(app) if "loud" in text]
    assert rendered
    assert all("\\*\\*loud\\*\\*" in text and "\\[click\\]" in text for text in rendered)
