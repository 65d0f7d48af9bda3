"""Trash, share links, downloads, curation, near-duplicates: SQLite + local files, PostgreSQL + S3."""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import tempfile
import tracemalloc
import urllib.request
import uuid
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from PIL import Image as PILImage

from studio.adapters.db.models import Image, ShareLink, utcnow
from studio.adapters.storage import LocalStorage
from studio.domain.sharing import ShareOptions, ShareTarget
from studio.errors import InvalidInput, NotFound, PasswordRequired, TooManyAttempts, WrongCredentials
from studio.services.accounts import demo
from studio.services.context import Services
from studio.services.generation import submissions
from studio.services.library import curation, details, downloads, gallery, projects, sharing, trash
from tests.support.builders import add_image, new_user, picture
from tests.support.fakes import FakeQueue


def fetch(services: Services, url: str) -> bytes:
    """The bytes behind a file URL: a presigned S3 GET, or our signed local link resolved directly."""
    storage = services.storage
    if isinstance(storage, LocalStorage):
        return storage.open_signed(url.rsplit("/", 1)[-1]).path.read_bytes()
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the moto server on loopback)
        return bytes(response.read())


def test_trash_lifecycle(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    kept, thrown = add_image(backend, alice, files=True), add_image(backend, alice, files=True)
    with pytest.raises(NotFound):
        trash.move_to_trash(backend, bob, [thrown])  # not Bob's
    assert trash.move_to_trash(backend, alice, [thrown]) == 1
    assert [item.id for item in gallery.gallery_page(backend, alice).items] == [kept]
    assert [item.id for item in trash.trashed(backend, alice)] == [thrown]
    assert trash.trashed(backend, bob) == []
    assert trash.restore(backend, alice, [thrown]) == 1
    assert {item.id for item in gallery.gallery_page(backend, alice).items} == {kept, thrown}

    trash.move_to_trash(backend, alice, [thrown])
    with backend.uow() as uow:
        keys = uow.session.execute(
            sa.select(Image.storage_key, Image.thumb_key).where(Image.id == thrown)
        ).one()
    with pytest.raises(NotFound):
        trash.purge(backend, bob, [thrown])
    with pytest.raises(NotFound):
        trash.purge(backend, alice, [kept])  # only what is in the trash can be purged
    assert trash.purge(backend, alice, [thrown]) == 1
    assert not backend.storage.exists(keys.storage_key)
    assert not backend.storage.exists(keys.thumb_key)
    with pytest.raises(NotFound):
        details.image_detail(backend, alice, thrown)


def test_the_trash_is_purged_after_the_retention_days(backend: Services) -> None:
    alice = new_user(backend, "alice", tagged=True)
    old, recent, live = (add_image(backend, alice, files=True) for _ in range(3))
    trash.move_to_trash(backend, alice, [old])
    with time_machine.travel(utcnow() + timedelta(days=backend.settings.trash_retention_days - 1)):
        trash.move_to_trash(backend, alice, [recent])
    with time_machine.travel(utcnow() + timedelta(days=backend.settings.trash_retention_days + 1)):
        assert trash.purge_expired(backend) == 1
    assert [item.id for item in trash.trashed(backend, alice)] == [recent]
    assert [item.id for item in gallery.gallery_page(backend, alice).items] == [live]


def test_share_lifecycle(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    image = add_image(backend, alice, files=True, prompt="a shared harbour")
    private = add_image(backend, alice, files=True, prompt="not shared")
    with pytest.raises(NotFound):
        sharing.create_share(backend, bob, ShareTarget.IMAGE, image)
    link = sharing.create_share(backend, alice, ShareTarget.IMAGE, image, ShareOptions(expires_in_days=1))
    assert len(link.token) >= 22
    assert link.url.endswith(f"/s/{link.token}")
    shown = sharing.open_share(backend, link.token)
    assert [item.id for item in shown.images] == [image]
    assert shown.title == "a shared harbour"
    assert fetch(backend, shown.images[0].url) == backend.storage.get(f"users/{alice}/images/{image.hex}.png")
    assert private not in [item.id for item in shown.images]
    sharing.open_share(backend, link.token)
    assert [s.view_count for s in sharing.shares_of(backend, alice, image)] == [2]
    assert sharing.shares_of(backend, bob) == []

    with pytest.raises(NotFound):
        sharing.revoke_share(backend, bob, link.id)
    sharing.revoke_share(backend, alice, link.id)
    with pytest.raises(NotFound):
        sharing.open_share(backend, link.token)
    with pytest.raises(NotFound):
        sharing.preview(backend, link.token)

    expiring = sharing.create_share(backend, alice, ShareTarget.IMAGE, image, ShareOptions(expires_in_days=1))
    with time_machine.travel(utcnow() + timedelta(days=1, seconds=5)), pytest.raises(NotFound):
        sharing.open_share(backend, expiring.token)

    locked = sharing.create_share(
        backend, alice, ShareTarget.IMAGE, image, ShareOptions(password="open sesame", allow_download=False)
    )
    with pytest.raises(PasswordRequired):
        sharing.open_share(backend, locked.token)
    with pytest.raises(WrongCredentials):
        sharing.open_share(backend, locked.token, "wrong")
    opened = sharing.open_share(backend, locked.token, "open sesame")
    refusals: list[type[Exception]] = []
    for _ in range(backend.settings.login_max_failures + 1):  # guessing is locked out like a sign-in
        with pytest.raises((WrongCredentials, TooManyAttempts)) as refused:
            sharing.open_share(backend, locked.token, "guess")
        refusals.append(refused.type)
    assert refusals[0] is WrongCredentials
    assert refusals[-1] is TooManyAttempts
    with pytest.raises(TooManyAttempts):
        sharing.open_share(backend, locked.token, "open sesame")
    assert opened.images[0].download_url is None
    assert sharing.preview(backend, locked.token).image_url is None  # a preview shows nothing of it

    fresh = sharing.create_share(backend, alice, ShareTarget.IMAGE, image)
    trash.move_to_trash(backend, alice, [image])  # what is in the trash is not shared any more
    with pytest.raises(NotFound):
        sharing.open_share(backend, fresh.token)
    with pytest.raises(NotFound):
        sharing.open_share(backend, "x" * 22)


def test_sharing_a_project_and_a_public_collection(backend: Services) -> None:
    alice = new_user(backend, "alice", tagged=True)
    project = projects.create_project(backend, alice, "Coast", "Cliffs and coves")
    inside = [add_image(backend, alice, files=True, project_id=project) for _ in range(2)]
    add_image(backend, alice, files=True)  # outside the project
    shown = sharing.open_share(
        backend, sharing.create_share(backend, alice, ShareTarget.PROJECT, project).token
    )
    assert {item.id for item in shown.images} == set(inside)
    assert (shown.title, shown.description) == ("Coast", "Cliffs and coves")

    collection = projects.create_collection(backend, alice, "Picks")
    curation.add_to_collection(backend, alice, list(reversed(inside)), collection)
    public = sharing.set_collection_public(backend, alice, collection, True)
    assert public is not None
    assert sharing.set_collection_public(backend, alice, collection, True) == public  # the same lasting link
    assert [i.id for i in sharing.open_share(backend, public.token).images] == list(reversed(inside))
    assert sharing.set_collection_public(backend, alice, collection, False) is None
    with pytest.raises(NotFound):
        sharing.open_share(backend, public.token)


def test_share_tokens_are_unguessable_and_unique(backend: Services) -> None:
    alice = new_user(backend, "alice", tagged=True)
    image = add_image(backend, alice)
    tokens = {sharing.create_share(backend, alice, ShareTarget.IMAGE, image).token for _ in range(20)}
    assert len(tokens) == 20
    with backend.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(ShareLink)) == 20


def test_a_zip_of_200_images_streams_without_holding_them_in_memory(backend: Services) -> None:
    alice = new_user(backend, "alice", tagged=True)
    big = picture(1, size=(512, 512))  # about 4 KB of PNG each; 200 of them ~ 1 MB... and more below
    noise = bytes(range(256)) * 1024  # 256 KB payload per image, so the whole set is ~50 MB
    ids = []
    for i in range(200):
        image_id = add_image(backend, alice, data=big)
        with backend.uow() as uow:
            key = uow.session.scalar(sa.select(Image.storage_key).where(Image.id == image_id))
        assert key is not None
        backend.storage.put(key, noise + i.to_bytes(4, "big"), "image/png")
        ids.append(image_id)
    download = downloads.prepare_zip(backend, alice, ids)
    assert download.url is None  # more than ZIP_INLINE_LIMIT: a job builds it
    assert downloads.zip_status(backend, alice, download.id, len(ids)).url is None
    files = downloads.zip_files(backend, alice, ids)
    gc.collect()
    tracemalloc.start()  # the archive is written as the job writes it, to a temporary file
    try:
        with tempfile.TemporaryFile() as out:
            assert downloads.write_zip(backend.storage, out, files) == 200
            written = out.tell()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # (Not the upload: with S3 that is boto3's multipart transfer.) Moto serves the GETs from this very
    # process, so its buffers count too: the bound is a quarter of the archive, not a few chunks.
    assert written > 200 * len(noise)
    assert peak < written / 4, f"peak {peak / 1e6:.1f} MB for {written / 1e6:.0f} MB of images"
    assert isinstance(backend.queue, FakeQueue)
    job = backend.queue.jobs.pop()
    downloads.build_zip(backend, alice, download.id, [uuid.UUID(i) for i in job["args"][2]])
    ready = downloads.zip_status(backend, alice, download.id, len(ids))
    assert ready.url is not None
    archive = zipfile.ZipFile(io.BytesIO(fetch(backend, ready.url)))
    assert len(archive.namelist()) == 200
    assert archive.read(archive.namelist()[0])[: len(noise)] == noise


def test_small_downloads_are_ready_at_once_and_metadata_exports(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    ids = [add_image(backend, alice, files=True, prompt=f"p{i}", tags=("a", "b")) for i in range(3)]
    with pytest.raises(NotFound):
        downloads.prepare_zip(backend, bob, ids)
    download = downloads.prepare_zip(backend, alice, ids)
    assert download.url is not None
    assert len(zipfile.ZipFile(io.BytesIO(fetch(backend, download.url))).namelist()) == 3
    rows = json.loads(downloads.export_metadata(backend, alice, ids, "json"))
    assert [row["prompt"] for row in rows] == ["p0", "p1", "p2"]
    assert rows[0]["tags"] == ["a", "b"]
    table = list(csv.DictReader(io.StringIO(downloads.export_metadata(backend, alice, ids, "csv").decode())))
    assert [row["id"] for row in table] == [str(i) for i in ids]
    assert table[0]["tags"] == "a, b"
    with pytest.raises(NotFound):
        downloads.export_metadata(backend, bob, ids, "csv")


def test_curation_is_all_or_nothing_and_owner_only(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    mine = add_image(backend, alice)
    theirs = add_image(backend, bob)
    with pytest.raises(NotFound):
        curation.set_favourite(backend, alice, [mine, theirs], True)
    assert details.image_detail(backend, alice, mine).is_favourite is False
    curation.set_favourite(backend, alice, [mine], True)
    curation.set_rating(backend, alice, mine, 4)
    with pytest.raises(InvalidInput):
        curation.set_rating(backend, alice, mine, 6)
    assert curation.set_tags(backend, alice, mine, ["Sea ", "sea", "night sky"]) == ["sea", "night sky"]
    curation.add_tags(backend, alice, [mine], ["sea", "blue"])
    curation.set_notes(backend, alice, mine, "keep")
    curation.add_comment(backend, alice, mine, "lovely")
    project = projects.create_project(backend, alice, "P")
    with pytest.raises(NotFound):
        curation.move_to_project(backend, bob, [theirs], project)  # not Bob's project
    curation.move_to_project(backend, alice, [mine], project)
    detail = details.image_detail(backend, alice, mine)
    assert (detail.is_favourite, detail.rating, detail.notes) == (True, 4, "keep")
    assert detail.tags == ["blue", "night sky", "sea"]
    assert [c.body for c in detail.comments] == ["lovely"]
    assert detail.project_name == "P"
    with pytest.raises(NotFound):
        details.image_detail(backend, bob, mine)


def test_near_identical_images_are_found_as_duplicates(backend: Services) -> None:
    alice, bob = new_user(backend, "alice", tagged=True), new_user(backend, "bob", tagged=True)
    original = add_image(backend, alice, data=picture(11, size=(256, 256)))
    near = add_image(backend, alice, data=picture(11, size=(256, 256), shift=40))  # one pixel differs
    smaller = PILImage.open(io.BytesIO(picture(11, size=(256, 256)))).convert("RGB").resize((200, 200))
    out = io.BytesIO()
    smaller.save(out, "JPEG", quality=85)
    resized = add_image(backend, alice, data=out.getvalue())  # resized and re-encoded
    other = add_image(backend, alice, data=picture(90, size=(256, 256)))
    add_image(backend, bob, data=picture(11, size=(256, 256)))  # Bob's copy is none of Alice's business
    similar = details.similar_images(backend, alice, original)
    found = [related.id for related, _ in similar]
    assert near in found
    assert resized in found
    assert other not in found
    assert len(found) == 2
    from studio.domain.library import GalleryFilter

    duplicates = {
        item.id for item in gallery.gallery_page(backend, alice, GalleryFilter(duplicates=True)).items
    }
    assert {original, near} <= duplicates
    assert other not in duplicates


def test_generating_into_a_project(embedded_services: Services) -> None:
    from studio.domain.accounts import Role
    from studio.domain.parameters import Request

    services = dataclasses.replace(embedded_services, queue=FakeQueue())
    alice = demo.sign_in_demo(services, Role.USER).id  # with credits
    bob = new_user(services, "bob", tagged=True)
    project = projects.create_project(services, alice, "Coast")
    request = Request("fal-ai/flux/dev", "a cliff")
    with pytest.raises(NotFound):
        submissions.start_generation(services, bob, request, "bob-into-alice", project_id=project)
    projects.archive_project(services, alice, project, True)
    with pytest.raises(NotFound):
        submissions.start_generation(services, alice, request, "into-archived", project_id=project)
    projects.archive_project(services, alice, project, False)
    job = submissions.start_generation(services, alice, request, "into-project", project_id=project)
    with services.uow() as uow:
        from studio.adapters.db.models import GenerationJob

        assert uow.session.get(GenerationJob, job.id).project_id == project  # type: ignore[union-attr]


def test_project_defaults_are_checked_against_the_model(embedded_services: Services) -> None:
    from studio.domain.parameters import Request
    from studio.errors import InvalidParameters

    alice = new_user(embedded_services, "alice", tagged=True)
    project = projects.create_project(embedded_services, alice, "Coast")
    with pytest.raises(InvalidParameters):
        projects.update_project(
            embedded_services, alice, project, defaults=Request("fal-ai/flux/dev", "", params={"nope": 1})
        )
    with pytest.raises(InvalidInput):
        projects.update_project(embedded_services, alice, project, defaults=Request("no/such-model", ""))
    defaults = Request("fal-ai/flux/dev", "", params={"num_inference_steps": 12})
    projects.update_project(embedded_services, alice, project, defaults=defaults)
    shown = projects.project(embedded_services, alice, project)
    assert shown.defaults == Request("fal-ai/flux/dev", "", "", "None", {"num_inference_steps": 12})
    copy = projects.duplicate_project(embedded_services, alice, project)
    assert projects.project(embedded_services, alice, copy).default_params == {"num_inference_steps": 12}
