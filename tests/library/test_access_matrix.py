"""Who sees what in the library: anonymous, user A (the owner), user B and an admin, across every library
service, page, route, file URL and share link. Nobody but A sees A's images, except through a live share
link, and then only what it shares."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from studio.adapters.db.models import utcnow
from studio.adapters.storage import LocalStorage
from studio.domain.library import GalleryFilter
from studio.domain.sharing import ShareOptions, ShareTarget
from studio.errors import NotFound, PasswordRequired, WrongCredentials
from studio.services.context import Services
from studio.services.library import curation, details, downloads, gallery, projects, sharing, trash
from studio.services.urls import SHARED_LIFETIME
from studio.web import routes
from tests.support.apptest import click_tile, home, registered, sign_in_as, tile_data
from tests.support.builders import add_image, new_user

SECRET_PROMPT = "alice private lighthouse 7f3a"


@dataclass
class World:
    services: Services
    alice: uuid.UUID
    image: uuid.UUID
    trashed: uuid.UUID
    project: uuid.UUID
    collection: uuid.UUID
    live: str  # a share token of the image
    revoked: str
    expired: str
    locked: str  # password "letmein"
    project_link: str


@pytest.fixture
def world(embedded_services: Services) -> World:
    svc = embedded_services
    alice = new_user(svc, "alice", tagged=True)
    project = projects.create_project(svc, alice, "Alice's project")
    image = add_image(svc, alice, files=True, prompt=SECRET_PROMPT, project_id=project, tags=("secret",))
    trashed = add_image(svc, alice, files=True, prompt=SECRET_PROMPT)
    trash.move_to_trash(svc, alice, [trashed])
    collection = projects.create_collection(svc, alice, "Alice's picks")
    curation.add_to_collection(svc, alice, [image], collection)
    share = functools_partial_share(svc, alice, image)
    revoked = share()
    sharing.revoke_share(svc, alice, revoked.id)
    with time_machine.travel(utcnow() - timedelta(days=2)):
        expired = share(ShareOptions(expires_in_days=1))
    return World(
        svc, alice, image, trashed, project, collection, share().token, revoked.token, expired.token,
        share(ShareOptions(password="letmein")).token,
        sharing.create_share(svc, alice, ShareTarget.PROJECT, project).token,
    )  # fmt: skip


def functools_partial_share(svc: Services, alice: uuid.UUID, image: uuid.UUID) -> Callable[..., Any]:
    def share(options: ShareOptions = sharing.DEFAULT_OPTIONS) -> sharing.ShareView:
        return sharing.create_share(svc, alice, ShareTarget.IMAGE, image, options)

    return share


# --- services: user B and an admin get NotFound for every one of A's things --------------------------------


def reads_and_writes(w: World) -> dict[str, Callable[[uuid.UUID], object]]:
    s = w.services
    return {
        "detail": lambda me: details.image_detail(s, me, w.image),
        "trashed detail": lambda me: details.image_detail(s, me, w.trashed),
        "similar": lambda me: details.similar_images(s, me, w.image),
        "favourite": lambda me: curation.set_favourite(s, me, [w.image], True),
        "rate": lambda me: curation.set_rating(s, me, w.image, 5),
        "tag": lambda me: curation.set_tags(s, me, w.image, ["mine"]),
        "bulk tag": lambda me: curation.add_tags(s, me, [w.image], ["mine"]),
        "notes": lambda me: curation.set_notes(s, me, w.image, "mine"),
        "comment": lambda me: curation.add_comment(s, me, w.image, "hello"),
        "move": lambda me: curation.move_to_project(s, me, [w.image], None),
        "into A's project": lambda me: curation.move_to_project(s, me, [w.image], w.project),
        "collect": lambda me: curation.add_to_collection(s, me, [w.image], w.collection),
        "trash": lambda me: trash.move_to_trash(s, me, [w.image]),
        "restore": lambda me: trash.restore(s, me, [w.trashed]),
        "purge": lambda me: trash.purge(s, me, [w.trashed]),
        "zip": lambda me: downloads.prepare_zip(s, me, [w.image]),
        "metadata": lambda me: downloads.export_metadata(s, me, [w.image], "json"),
        "share image": lambda me: sharing.create_share(s, me, ShareTarget.IMAGE, w.image),
        "share project": lambda me: sharing.create_share(s, me, ShareTarget.PROJECT, w.project),
        "share collection": lambda me: sharing.create_share(s, me, ShareTarget.COLLECTION, w.collection),
        "project": lambda me: projects.project(s, me, w.project),
        "rename project": lambda me: projects.update_project(s, me, w.project, name="mine"),
        "archive project": lambda me: projects.archive_project(s, me, w.project, True),
        "duplicate project": lambda me: projects.duplicate_project(s, me, w.project),
        "project images": lambda me: projects.project_image_ids(s, me, w.project),
        "collection": lambda me: projects.members(s, me, w.collection),
        "rename collection": lambda me: projects.update_collection(s, me, w.collection, name="mine"),
        "reorder": lambda me: projects.reorder(s, me, w.collection, [w.image]),
        "uncollect": lambda me: projects.remove_from_collection(s, me, w.collection, [w.image]),
        "public": lambda me: sharing.set_collection_public(s, me, w.collection, True),
        "delete collection": lambda me: projects.delete_collection(s, me, w.collection),
    }


@pytest.mark.parametrize("who", ["user B", "admin"])
def test_nobody_else_reaches_an_owners_things_through_the_services(world: World, who: str) -> None:
    me = new_user(
        world.services,
        "bob" if who == "user B" else "root",
        tagged=True,
        role="admin" if who == "admin" else "user",
    )
    for name, call in reads_and_writes(world).items():
        try:
            call(me)
        except NotFound:
            continue
        pytest.fail(f"{who} could {name}")
    s = world.services
    assert gallery.gallery_page(s, me).items == []
    assert gallery.gallery_page(s, me, GalleryFilter(search="lighthouse")).items == []
    assert gallery.gallery_page(s, me, GalleryFilter(project_id=world.project)).items == []
    assert gallery.gallery_page(s, me, GalleryFilter(collection_id=world.collection)).items == []
    assert gallery.gallery_page(s, me, GalleryFilter(tag="secret")).items == []
    assert trash.trashed(s, me) == []
    assert projects.projects(s, me) == [] and projects.collections(s, me) == []  # noqa: PT018
    assert sharing.shares_of(s, me) == [] and sharing.shares_of(s, me, world.image) == []  # noqa: PT018
    for share in sharing.shares_of(s, world.alice):
        with pytest.raises(NotFound):
            sharing.revoke_share(s, me, share.id)
    assert gallery.tags_used(s, me) == [] and gallery.models_used(s, me) == []  # noqa: PT018
    # ...and A still has everything
    assert details.image_detail(s, world.alice, world.image).tags == ["secret"]
    assert [m.id for m in projects.members(s, world.alice, world.collection)] == [world.image]


# --- share links: only live ones open, and only what they share -------------------------------------------


def test_share_links_open_only_while_live(world: World) -> None:
    s = world.services
    assert [i.id for i in sharing.open_share(s, world.live).images] == [world.image]
    assert [i.id for i in sharing.open_share(s, world.project_link).images] == [
        world.image
    ]  # not the trashed
    for token in (world.revoked, world.expired, "", "nope", world.live + "x", world.live[:-1]):
        with pytest.raises(NotFound):
            sharing.open_share(s, token)
    with pytest.raises(PasswordRequired):
        sharing.open_share(s, world.locked)
    with pytest.raises(WrongCredentials):
        sharing.open_share(s, world.locked, "LETMEIN")
    assert sharing.open_share(s, world.locked, "letmein").images[0].id == world.image


# --- the pages, as each actor ------------------------------------------------------------------------------


def as_actor(who: str) -> AppTest:
    app = home()
    if who == "user B":
        sign_in_as(app, "Continue as demo user")
    elif who == "admin":
        sign_in_as(app, "Continue as demo admin")
    return app


def page_text(app: AppTest) -> str:
    parts: list[Any] = [*app.markdown, *app.caption, *app.title, *app.info, *app.warning, *app.error]
    parts += [*app.text_input, *app.text_area]
    shown = " ".join(str(u) for i in app.image for u in i.value)
    return " ".join(str(part.value) for part in parts) + shown + json.dumps(tile_data(app))  # tiles too


@pytest.mark.parametrize("who", ["anonymous", "user B", "admin"])
def test_no_page_shows_an_owners_things_to_anybody_else(world: World, who: str) -> None:
    app = as_actor(who)
    targets = {
        "pages/gallery.py": {}, "pages/image.py": {"id": str(world.image)},
        "pages/projects.py": {"id": str(world.project)},
        "pages/collections.py": {"id": str(world.collection)}, "pages/trash.py": {},
    }  # fmt: skip
    for page, params in targets.items():
        if who == "anonymous":
            assert not registered(app, page), page  # signed-out sessions have no library pages at all
            continue
        app.query_params.clear()
        app.query_params.update(params)
        app.switch_page(page).run()
        assert not app.exception, app.exception
        text = page_text(app)
        assert SECRET_PROMPT not in text, page
        assert str(world.alice) not in text, page  # no key or URL of A's files
        assert "Alice's" not in text, page
    # the share page is open to everybody, and shows exactly the shared image
    app.query_params.clear()
    app.query_params["t"] = world.live
    app.switch_page("pages/shared.py").run()
    assert SECRET_PROMPT in page_text(app)
    for token in (world.revoked, world.expired, world.locked):
        app.query_params["t"] = token
        app.switch_page("pages/shared.py").run()
        assert SECRET_PROMPT not in page_text(app)


@pytest.mark.parametrize("who", ["user B", "admin"])
def test_a_forged_click_on_the_gallery_opens_nothing_of_anybody_elses(world: World, who: str) -> None:
    app = as_actor(who)
    add_image(world.services, app.session_state["account"].id, prompt="my own harbour")
    app.switch_page("pages/gallery.py").run()
    click_tile(app, str(world.image))  # A's image id, sent as a tile's click: the browser is not trusted
    assert SECRET_PROMPT not in page_text(app)
    assert [str(w.value) for w in app.warning] == ["No such image."]


# --- HTTP routes: the link preview and the signed files --------------------------------------------------


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=routes())) as test_client:
        yield test_client


def test_the_preview_route_shows_a_live_link_only(world: World, client: TestClient) -> None:
    live = client.get(f"/s/{world.live}", follow_redirects=False)
    assert live.status_code == 200
    assert 'property="og:title"' in live.text and "og:image" in live.text  # noqa: PT018
    assert f"/s?t={world.live}" in live.text  # on to the share page
    assert live.headers["cache-control"] == "no-store"
    for token in (world.revoked, world.expired, "unknown-token"):
        refused = client.get(f"/s/{token}")
        assert refused.status_code == 404, token
        assert SECRET_PROMPT not in refused.text
    locked = client.get(f"/s/{world.locked}")
    assert locked.status_code == 200
    assert SECRET_PROMPT not in locked.text and "og:image" not in locked.text  # noqa: PT018


def test_file_urls_are_signed_and_shared_ones_expire_within_minutes(world: World, client: TestClient) -> None:
    storage = world.services.storage
    assert isinstance(storage, LocalStorage)
    shown = sharing.open_share(world.services, world.live).images[0]
    assert client.get(shown.url.replace("http://localhost:8501", "")).status_code == 200
    key = f"users/{world.alice}/images/{world.image.hex}.png"
    forged = storage.url(key, 60).rsplit("/", 1)[-1][:-3] + "abc"
    assert client.get(f"/api/files/{forged}").status_code == 404
    assert client.get(f"/api/files/{key}").status_code == 404  # a key is not a link
    with time_machine.travel(utcnow() + timedelta(seconds=SHARED_LIFETIME + 5)):
        assert client.get(shown.url.replace("http://localhost:8501", "")).status_code == 404
