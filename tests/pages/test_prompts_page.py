"""The prompt library page and its pickers on Generate, in Streamlit's AppTest."""

from __future__ import annotations

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob
from studio.domain.prompts import PromptForm
from studio.services.context import Services
from studio.services.prompts import library, wildcards
from tests.support.apptest import me, press, signed_in, titles, visit


def test_the_page_saves_a_prompt_and_shows_it_as_text(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/prompts.py")
    assert titles(app) == ["Prompt library"]
    assert [tab.label for tab in app.tabs][:3] == ["My prompts", "History", "Public"]
    app.text_input(key="prompts.new.title").input("Night *harbour*")
    app.text_area(key="prompts.new.text").input("a <b>harbour</b> at {dusk|night}")
    next(button for button in app.button if button.label == "Save to the library").click().run()
    assert not app.exception, app.exception
    (saved,) = library.prompts(embedded_services, me(app))
    assert (saved.title, saved.is_template) == ("Night *harbour*", True)
    assert any("Night \\*harbour\\*" in str(m.value) for m in app.markdown)  # escaped, shown as typed
    assert any(code.value == "a <b>harbour</b> at {dusk|night}" for code in app.code)


def test_use_on_generate_fills_the_form_and_a_template_shows_its_fields_and_count(
    embedded_services: Services,
) -> None:
    app = signed_in()
    owner = me(app)
    wildcards.save(embedded_services, owner, "animal", "fox\nowl\nhare")
    library.create(embedded_services, owner, PromptForm("Beasts", "a {small|large} __animal__ near ${place}"))
    visit(app, "pages/prompts.py")
    press(app, "Use on Generate")
    assert titles(app) == ["Generate"]
    visit(app, "pages/generate.py")  # AppTest stays on the page it ran; the browser follows the switch
    assert app.text_area(key="gen.prompt").value == "a {small|large} __animal__ near ${place}"
    app.text_input(key="gen.var.place").input("a river")
    next(button for button in app.button if button.label == "Update cost").click().run()
    assert not app.exception, app.exception
    captions = " ".join(str(caption.value) for caption in app.caption)
    assert "6 possible prompts" in captions
    assert any(str(code.value).endswith("near a river") for code in app.code)
    next(button for button in app.button if button.label == "Generate").click().run()
    assert not app.exception, app.exception
    with embedded_services.uow() as uow:
        job = uow.session.scalars(sa.select(GenerationJob).where(GenerationJob.owner_id == owner)).one()
        uow.session.expunge(job)
    assert job.request["template"] == "a {small|large} __animal__ near ${place}"
    assert job.request["values"] == {"place": "a river"}
    assert job.prompt.endswith("near a river")
    assert "__animal__" not in job.prompt
    assert library.prompts(embedded_services, owner)[0].use_count == 1


def test_a_template_with_an_error_says_where(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/generate.py")
    app.text_area(key="gen.prompt").input("a {red|blue cat")
    next(button for button in app.button if button.label == "Update cost").click().run()
    assert not app.exception, app.exception
    assert any("column" in str(error.value) for error in app.error)


def test_weights_get_a_note_on_models_that_would_read_them_as_text(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/generate.py")
    app.selectbox(key="gen.model").select("fal-ai/flux/dev").run()
    app.text_area(key="gen.prompt").input("a (red:1.3) fox")
    next(button for button in app.button if button.label == "Update cost").click().run()
    assert any("weights are left out" in str(caption.value) for caption in app.caption)
    app.selectbox(key="gen.model").select("fal-ai/fast-sdxl").run()
    assert not any("weights are left out" in str(caption.value) for caption in app.caption)
