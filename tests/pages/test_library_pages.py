"""The library pages in Streamlit's AppTest: gallery, image detail, projects, collections, trash, shared."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from studio.domain.sharing import ShareOptions, ShareTarget
from studio.services.context import Services
from studio.services.library import curation, details, projects, sharing, trash
from studio.services.library import gallery as library
from studio.ui.library import gallery
from tests.support.apptest import (
    click_tile,
    home,
    me,
    press,
    shown,
    signed_in,
    texts,
    tile_data,
    tile_urls,
    titles,
    visit,
)
from tests.support.builders import T0, add_image, minutes, new_user


def image_urls(app: AppTest) -> list[str]:
    return [str(url) for image in app.image for url in image.value] + tile_urls(app)


def link_buttons(app: AppTest) -> list[str]:
    return [str(getattr(element, "proto").label) for element in app.get("link_button")]  # noqa: B009


def test_the_gallery_pages_through_the_owners_images_only(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    other = new_user(embedded_services, "mallory", tagged=True)
    mine = [
        add_image(embedded_services, owner, prompt=f"harbour {i}", created_at=minutes(i)) for i in range(30)
    ]
    theirs = add_image(embedded_services, other, prompt="secret harbour")
    visit(app, "pages/gallery.py", n="24")
    assert titles(app) == ["Gallery"]
    assert shown(app) == [str(i) for i in reversed(mine)][:24]
    assert str(theirs) not in shown(app)
    assert len(image_urls(app)) == 24
    assert all("/api/files/" in url for url in image_urls(app))  # signed URL strings, never bytes
    first_urls = image_urls(app)
    app.run()
    assert image_urls(app) == first_urls  # cached: the same src on a rerun, so browsers keep the files

    press(app, "Next")
    assert app.query_params["p"] == "2"
    assert shown(app) == [str(i) for i in reversed(mine)][24:]
    press(app, "Previous")
    assert shown(app) == [str(i) for i in reversed(mine)][:24]


def test_search_filters_and_list_view(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    cat = add_image(embedded_services, owner, prompt="a red cat on a sofa", rating=5)
    add_image(embedded_services, owner, prompt="a blue whale", rating=2)
    # Each visit is a fresh session, as a link opened in the browser is (bound widgets read the URL then).
    visit(app, "pages/gallery.py", q="cat")
    assert shown(app) == [str(cat)]
    app = visit(signed_in(), "pages/gallery.py", stars="4", view="List")
    assert shown(app) == [str(cat)]
    [row] = tile_data(app)["tiles"]
    assert tile_data(app)["layout"] == "list"
    assert row["label"] == "a red cat on a sofa"
    assert "★★★★★" in row["detail"]
    app = visit(signed_in(), "pages/gallery.py", q="nothing matches this")
    assert "No images match." in texts(app)


def test_the_created_filter_offers_ranges_and_a_custom_one(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    now = datetime.now(UTC)
    today = add_image(embedded_services, owner, prompt="today", created_at=now)
    last_week = add_image(embedded_services, owner, prompt="last week", created_at=now - timedelta(days=5))
    old = add_image(embedded_services, owner, prompt="old", created_at=T0)

    def shown_ids(app: AppTest) -> set[uuid.UUID]:
        return {uuid.UUID(i) for i in shown(app)}

    visit(app, "pages/gallery.py")
    assert shown_ids(app) == {today, last_week, old}
    assert not app.date_input  # the date pickers only for a custom range
    app.selectbox(key="when").select("1").run()
    assert shown_ids(app) == {today}
    app.selectbox(key="when").select("7").run()
    assert shown_ids(app) == {today, last_week}

    app.selectbox(key="when").select("custom").run()
    assert [d.label for d in app.date_input] == ["From", "To"]
    app.date_input(key="to").set_value(T0.date()).run()
    assert shown_ids(app) == {old}
    app.date_input(key="from").set_value(T0.date() + timedelta(days=1)).run()  # ends before it starts
    assert "The date range ends before it starts." in [str(w.value) for w in app.warning]
    assert shown_ids(app) == {today, last_week, old}  # shown, and ignored
    app.selectbox(key="when").select("").run()
    assert not app.date_input
    assert "to" not in app.query_params
    assert "from" not in app.query_params

    app = visit(signed_in(), "pages/gallery.py", to=T0.date().isoformat())  # a link to a custom range
    assert app.selectbox(key="when").value == "custom"
    assert shown_ids(app) == {old}


def test_bulk_actions_and_the_lightbox(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    ids = [add_image(embedded_services, owner, files=True, prompt=f"shore {i}") for i in range(3)]
    visit(app, "pages/gallery.py")
    assert tile_data(app)["selecting"] is False
    assert "Favourite" not in [b.label for b in app.button]
    app.toggle(key="gallery.selecting").set_value(True).run()
    assert tile_data(app)["selecting"] is True
    for image_id in (ids[0], ids[1], ids[2], ids[2]):  # a second click unticks
        click_tile(app, str(image_id))
    assert set(tile_data(app)["selected"]) == {str(ids[0]), str(ids[1])}
    assert "2 selected" in texts(app)
    assert gallery.LIGHTBOX not in app.session_state  # a click while selecting ticks, never opens
    press(app, "Favourite")
    assert {i for i in ids if details.image_detail(embedded_services, owner, i).is_favourite} == set(ids[:2])
    press(app, "Select all")
    assert len(tile_data(app)["selected"]) == 3
    press(app, "Clear")
    assert tile_data(app)["selected"] == []
    click_tile(app, str(ids[0]))
    press(app, "Move to trash")
    assert [t.id for t in trash.trashed(embedded_services, owner)] == [ids[0]]
    assert set(shown(app)) == {str(ids[1]), str(ids[2])}

    app.toggle(key="gallery.selecting").set_value(False).run()
    click_tile(app, "not-an-id")  # what only a forged message sends: ignored
    click_tile(app, str(ids[2]))
    assert "shore 2" in texts(app)  # the lightbox shows the prompt
    assert "Download original" in link_buttons(app)
    app.toggle(key="gallery.selecting").set_value(True).run()
    assert tile_data(app)["selected"] == []  # leaving select mode forgot the ticks


def test_the_image_page_is_for_its_owner_only(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    mine = add_image(embedded_services, owner, files=True, prompt="my lighthouse", tags=("coast",))
    theirs = add_image(
        embedded_services, new_user(embedded_services, "mallory", tagged=True), files=True, prompt="secret"
    )
    visit(app, "pages/image.py", id=str(mine))
    assert "my lighthouse" in texts(app)
    assert "coast" in str(app.text_input[0].value)
    press(app, "Favourite")
    assert details.image_detail(embedded_services, owner, mine).is_favourite
    app.text_input[0].input("coast, night")
    next(b for b in app.button if b.label == "Save tags and notes").click().run()
    assert details.image_detail(embedded_services, owner, mine).tags == ["coast", "night"]
    visit(app, "pages/image.py", id=str(theirs))
    assert "secret" not in texts(app)
    assert "No such image." in texts(app)
    visit(app, "pages/image.py", id="not-an-id")
    assert "No such image." in texts(app)


def test_recall_from_an_image_fills_the_generate_form(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    image = add_image(
        embedded_services, owner, files=True, prompt="recalled prompt", model="fal-ai/flux/schnell"
    )
    visit(app, "pages/image.py", id=str(image))
    press(app, "Recall")
    assert titles(app) == ["Generate"]
    assert app.text_area(key="gen.prompt").value == "recalled prompt"
    assert app.selectbox(key="gen.model").value == "fal-ai/flux/schnell"


def test_projects_page_creates_renames_and_generates_into_a_project(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    visit(app, "pages/projects.py")
    assert titles(app) == ["Projects"]
    app.text_input[0].input("Coastline")
    next(b for b in app.button if b.label == "Create project").click().run()
    assert not app.exception, app.exception
    [project] = projects.projects(embedded_services, owner)
    assert project.name == "Coastline"
    assert titles(app) == ["Coastline"]
    add_image(embedded_services, owner, files=True, project_id=project.id)
    app.run()
    assert "1 images" in texts(app)
    press(app, "Generate in this project")
    assert titles(app) == ["Generate"]
    assert "Coastline" in texts(app)
    others = projects.create_project(
        embedded_services, new_user(embedded_services, "mallory", tagged=True), "Secret"
    )
    visit(app, "pages/projects.py", id=str(others))
    assert "No such project." in texts(app)
    assert "Secret" not in texts(app)


def test_collections_page_orders_images(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    collection = projects.create_collection(embedded_services, owner, "Favourites of the month")
    ids = [add_image(embedded_services, owner, files=True, prompt=f"pick {i}") for i in range(3)]
    curation.add_to_collection(embedded_services, owner, ids, collection)
    visit(app, "pages/collections.py", id=str(collection))
    assert titles(app) == ["Favourites of the month"]
    app.button(key=f"col.Down.{ids[0]}").click().run()
    assert [m.id for m in projects.members(embedded_services, owner, collection)] == [ids[1], ids[0], ids[2]]
    app.toggle[0].set_value(True).run()
    assert projects.collection(embedded_services, owner, collection).is_public
    others = projects.create_collection(
        embedded_services, new_user(embedded_services, "mallory", tagged=True), "Secret"
    )
    visit(app, "pages/collections.py", id=str(others))
    assert "No such collection." in texts(app)


def test_trash_page_restores_and_purges(embedded_services: Services) -> None:
    app = signed_in()
    owner = me(app)
    ids = [add_image(embedded_services, owner, files=True) for _ in range(2)]
    trash.move_to_trash(embedded_services, owner, ids)
    visit(app, "pages/trash.py")
    app.checkbox(key=f"trash.sel.{ids[0]}").check().run()
    press(app, "Restore selected")
    assert [item.id for item in library.gallery_page(embedded_services, owner).items] == [ids[0]]
    app.checkbox(key=f"trash.sel.{ids[1]}").check().run()
    press(app, "Delete selected for good")
    assert trash.trashed(embedded_services, owner) == []


@pytest.mark.parametrize("signed", [False, True])
def test_the_share_page_shows_only_what_was_shared(embedded_services: Services, signed: bool) -> None:
    owner = new_user(embedded_services, "alice", tagged=True)
    shared = add_image(embedded_services, owner, files=True, prompt="the shared one")
    add_image(embedded_services, owner, files=True, prompt="the private one")
    link = sharing.create_share(embedded_services, owner, ShareTarget.IMAGE, shared)
    locked = sharing.create_share(
        embedded_services, owner, ShareTarget.IMAGE, shared, ShareOptions(password="letmein")
    )
    app = signed_in() if signed else home()
    visit(app, "pages/shared.py", t=link.token)
    assert "the shared one" in texts(app)
    assert "the private one" not in texts(app)
    assert "Download" in link_buttons(app)
    visit(app, "pages/shared.py", t=locked.token)
    assert "the shared one" not in texts(app)
    app.text_input[0].input("wrong")
    next(b for b in app.button if b.label == "Open").click().run()
    assert "That password is not right." in texts(app)
    app.text_input[0].input("letmein")
    next(b for b in app.button if b.label == "Open").click().run()
    assert "the shared one" in texts(app)
    sharing.revoke_share(embedded_services, owner, link.id)
    visit(app, "pages/shared.py", t=link.token)
    assert "not valid" in texts(app)
    assert "the shared one" not in texts(app)
    visit(app, "pages/shared.py")
    assert "not valid" in texts(app)
