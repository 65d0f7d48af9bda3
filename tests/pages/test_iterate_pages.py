"""Iteration in Streamlit's AppTest: the quick actions of the image page (priced, each starting a job with
its parent), Remix into Generate, the Edit page and the Compare page, for the owner only."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from studio.adapters.db.models import GenerationJob
from studio.services.context import Services
from tests.support.apptest import me, signed_in, texts, titles, visit
from tests.support.builders import add_image, new_user


def jobs_of(services: Services, owner: uuid.UUID) -> list[GenerationJob]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(sa.select(GenerationJob).where(GenerationJob.owner_id == owner)))
        uow.session.expunge_all()
    return rows


def test_the_image_page_offers_every_way_on_and_regenerate_starts_a_child_job(
    embedded_services: Services,
) -> None:
    app = signed_in()
    owner = me(app)
    image = add_image(embedded_services, owner, files=True, prompt="a red fox", width=512, height=512)
    visit(app, "pages/image.py", id=str(image))
    labels = {button.label for button in app.button}
    assert {"Regenerate", "Remix", "Remove background"} <= labels
    popovers = {popover.proto.popover.label for popover in app.get("popover")}
    assert {"Variations", "Upscale"} <= popovers
    regenerate = next(button for button in app.button if button.label == "Regenerate")
    assert regenerate.proto.help == "1 credit"  # priced before it runs
    assert any(link.proto.label == "Edit" for link in app.get("page_link"))
    regenerate.click().run()
    assert not app.exception, app.exception
    (job,) = jobs_of(embedded_services, owner)
    assert (job.operation, job.parent_image_id, job.prompt) == ("regenerate", image, "a red fox")
    assert job.credits_reserved == 1


def test_remix_opens_generate_with_the_request_and_the_image_as_reference(
    embedded_services: Services,
) -> None:
    app = signed_in()
    image = add_image(embedded_services, me(app), files=True, prompt="remix me", model="fal-ai/flux/schnell")
    visit(app, "pages/image.py", id=str(image))
    next(button for button in app.button if button.label == "Remix").click().run()
    assert not app.exception, app.exception
    assert titles(app) == ["Generate"]
    assert app.text_area(key="gen.prompt").value == "remix me"
    assert app.session_state["gen.reference"] == str(image)
    assert "Starting from this image" in texts(app)


def test_the_edit_page_is_for_the_owners_images_and_prices_each_tool(embedded_services: Services) -> None:
    app = signed_in()
    mine = add_image(embedded_services, me(app), files=True, width=512, height=512)
    theirs = add_image(embedded_services, new_user(embedded_services, "mallory"), files=True, prompt="secret")
    visit(app, "pages/edit.py", id=str(theirs))
    assert "No such image." in texts(app)
    assert "secret" not in texts(app)
    visit(app, "pages/edit.py")
    assert app.get("file_uploader")  # no image: upload one to start from
    visit(app, "pages/edit.py", id=str(mine))
    assert [tab.label for tab in app.tabs] == ["Inpaint", "Outpaint", "Image to image"]
    assert "Draw a mask first." in texts(app)  # inpaint waits for a mask: nothing to price yet
    assert "512×512 → 768×512" in texts(app)  # outpaint: 256 px to the right by default
    assert "Costs 2 credits." in texts(app)  # Bria Expand, $0.04 a generation
    assert "Costs 1 credit." in texts(app)  # image-to-image on 0.25 megapixels


def test_compare_shows_two_to_four_of_the_owners_images(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    parent = add_image(embedded_services, owner, files=True, prompt="before")
    child = add_image(embedded_services, owner, files=True, prompt="after", parent_image_id=parent)
    theirs = add_image(embedded_services, new_user(embedded_services, "mallory"), files=True, prompt="secret")
    visit(app, "pages/compare.py", ids=f"{child},{parent}")
    assert titles(app) == ["Compare"]
    sliders = [element for element in app.get("bidi_component") if "before" in str(element.proto)]
    assert len(sliders) == 1
    assert len(app.image) == 2
    assert texts(app).index("before") < texts(app).index("after")  # the parent goes first
    visit(app, "pages/compare.py", ids=f"{parent},{theirs}")
    assert "not yours" in texts(app)
    assert "secret" not in texts(app)
    visit(app, "pages/compare.py", ids=str(parent))
    assert "Choose two to four images" in texts(app)
