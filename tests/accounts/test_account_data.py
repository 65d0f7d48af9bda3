"""Export my data and delete my account, on the real components.

Most tests run embedded (SQLite, local files) with the jobs recorded by a FakeQueue and run in this thread;
the core export and purge tests also run on PostgreSQL and an S3 server (moto). One test goes through the
in-process runner and the job functions in studio.jobs, as the app does.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from studio.adapters.db.models import (
    Collection,
    CollectionImage,
    CreditLedger,
    DataExport,
    GenerationJob,
    Image,
    ImageTag,
    Project,
    User,
    utcnow,
)
from studio.errors import InvalidForm, InvalidInput, QueueError, StorageError, WrongCredentials
from studio.services.accounts import deletion, export, sessions
from studio.services.accounts.export import ExportView
from studio.services.context import Services
from tests.support.builders import signed_up
from tests.support.env import wait_for
from tests.support.fakes import FakeQueue

PASSWORD = "a long enough secret 42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPTOTPSECRET"


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class Library:
    """One account with a job, images (original + thumbnail each), tags, a project and a collection."""

    user_id: uuid.UUID
    username: str
    password_hash: str
    job_ids: list[uuid.UUID] = field(default_factory=list)
    image_ids: list[uuid.UUID] = field(default_factory=list)
    originals: dict[uuid.UUID, tuple[str, bytes]] = field(default_factory=dict)  # image id: key, bytes
    keys: list[str] = field(default_factory=list)  # every object of the account


def make_library(services: Services, name: str, images: int = 2) -> Library:
    account = signed_up(services, name, PASSWORD, tagged=True)
    storage = services.storage
    with services.uow() as uow:
        user = uow.session.get(User, account.id)
        assert user is not None
        assert user.password_hash is not None
        user.totp_secret = TOTP_SECRET
        user.recovery_codes = ["recovery-code-hash-1"]
        user.avatar_key = f"users/{user.id}/avatar.png"
        library = Library(user.id, account.username, user.password_hash, keys=[user.avatar_key])
        storage.put(user.avatar_key, png((1, 2, 3)), "image/png")
        job = GenerationJob(
            owner_id=user.id,
            model_endpoint="fal-ai/flux/schnell",
            prompt=f"a lighthouse painted by {name}",
            params={"prompt": f"a lighthouse painted by {name}", "seed": 7},
            request={"prompt": f"a lighthouse painted by {name}"},
            idempotency_key=uuid.uuid4().hex,
            provider="demo",
            status="succeeded",
            credits_reserved=images,
            credits_settled=images,
        )
        project = Project(owner_id=user.id, name=f"{name}'s project")
        collection = Collection(owner_id=user.id, name=f"{name}'s favourites")
        uow.session.add_all([job, project, collection])
        uow.session.flush()
        library.job_ids.append(job.id)
        for index in range(images):
            data = png((index * 40, 100, 200 if name == "alice" else 50))
            key = f"users/{user.id}/images/{job.id}-{index}.png"
            thumb = f"users/{user.id}/thumbs/{job.id}-{index}.webp"
            storage.put(key, data, "image/png")
            storage.put(thumb, b"RIFF-thumbnail", "image/webp")
            image = Image(
                owner_id=user.id,
                job_id=job.id,
                project_id=project.id,
                prompt=job.prompt,
                model_endpoint=job.model_endpoint,
                params=dict(job.params),
                seed=7,
                width=8,
                height=8,
                content_type="image/png",
                byte_size=len(data),
                storage_key=key,
                thumb_key=thumb,
                credits=1,
            )
            uow.session.add(image)
            uow.session.flush()
            uow.session.add(ImageTag(image_id=image.id, tag="sea", owner_id=user.id))
            uow.session.add(CollectionImage(collection_id=collection.id, image_id=image.id, position=index))
            library.image_ids.append(image.id)
            library.originals[image.id] = (key, data)
            library.keys += [key, thumb]
        uow.commit()
    return library


def run_queued(services: Services) -> None:
    """Run the export and purge jobs the FakeQueue recorded, on these services (mails are dropped)."""
    queue = services.queue
    assert isinstance(queue, FakeQueue)
    while queue.jobs:
        job = queue.jobs.pop(0)
        name = job["func"].rsplit(".", 1)[-1]
        if name == "build_export":
            export.build_export(services, uuid.UUID(job["args"][0]))
        elif name == "purge_account":
            deletion.purge_account(services, uuid.UUID(job["args"][0]))


def export_zip(services: Services, view: ExportView) -> tuple[bytes, zipfile.ZipFile]:
    with services.uow() as uow:
        export = uow.session.get(DataExport, view.id)
        assert export is not None
        assert export.object_key is not None
        key = export.object_key
    assert services.storage.exists(key)
    data = services.storage.get(key)
    return data, zipfile.ZipFile(io.BytesIO(data))


def document_of(archive: zipfile.ZipFile) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(archive.read("studio-export.json"))
    return parsed


def count(services: Services, query: Any) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)


@pytest.fixture
def studio(embedded_services: Services) -> Iterator[Services]:
    """Embedded services whose jobs wait in a FakeQueue until `run_queued`."""
    runner = embedded_services.queue
    embedded_services.queue = FakeQueue(queue_names=embedded_services.settings.queue_names)
    yield embedded_services
    embedded_services.queue = runner


@pytest.fixture(params=["sqlite-local", "postgres-s3"])
def backend(request: pytest.FixtureRequest, studio: Services) -> Services:
    if request.param == "sqlite-local":
        return studio
    return dataclasses.replace(
        studio,
        database=request.getfixturevalue("postgres_db"),
        storage=request.getfixturevalue("s3_storage"),
        queue=FakeQueue(queue_names=studio.settings.queue_names),
    )


# --- export -----------------------------------------------------------------------------------------------


def test_the_export_holds_exactly_the_accounts_records_and_files(backend: Services) -> None:
    alice, bob = make_library(backend, "alice"), make_library(backend, "bob", images=1)

    pending = export.request_export(backend, alice.user_id)
    assert (pending.status, pending.url) == ("pending", None)
    run_queued(backend)

    view = export.latest_export(backend, alice.user_id)
    assert view is not None
    assert (view.id, view.status, view.error) == (pending.id, "ready", None)
    assert view.url
    assert view.finished_at
    raw, archive = export_zip(backend, view)
    assert view.size_bytes == len(raw)
    files = {f"images/{image_id}.png": data for image_id, (_, data) in alice.originals.items()}
    assert set(archive.namelist()) == {"studio-export.json", *files}
    for name, data in files.items():
        assert archive.read(name) == data
        assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
    assert archive.getinfo("studio-export.json").compress_type == zipfile.ZIP_DEFLATED

    document = document_of(archive)
    assert document["account"]["id"] == str(alice.user_id)
    assert document["account"]["username"] == alice.username
    assert document["settings"] is not None
    assert [job["id"] for job in document["generation_jobs"]] == [str(job_id) for job_id in alice.job_ids]
    assert document["generation_jobs"][0]["prompt"] == "a lighthouse painted by alice"
    assert {image["id"] for image in document["images"]} == {str(image_id) for image_id in alice.image_ids}
    assert {image["file"] for image in document["images"]} == set(files)
    assert all(image["tags"] == ["sea"] for image in document["images"])
    ledger = count(backend, sa.select(CreditLedger.id).where(CreditLedger.user_id == alice.user_id))
    assert len(document["credit_ledger"]) == ledger > 0
    assert len(document["projects"]) == 1
    assert sorted(document["collections"][0]["image_ids"]) == sorted(str(i) for i in alice.image_ids)
    assert document["missing_files"] == []

    everything = raw + b"".join(archive.read(name) for name in archive.namelist())
    for secret in (alice.password_hash, TOTP_SECRET, "recovery-code-hash-1"):
        assert secret.encode() not in everything
    for other in (bob.user_id, *bob.image_ids, *bob.job_ids):
        assert str(other).encode() not in everything


def test_a_missing_object_is_listed_and_the_export_still_succeeds(studio: Services) -> None:
    alice = make_library(studio, "alice")
    gone, (key, _) = next(iter(alice.originals.items()))
    studio.storage.delete(key)

    export.request_export(studio, alice.user_id)
    run_queued(studio)

    view = export.latest_export(studio, alice.user_id)
    assert view is not None
    assert view.status == "ready"
    _, archive = export_zip(studio, view)
    assert document_of(archive)["missing_files"] == [{"image_id": str(gone), "file": f"images/{gone}.png"}]
    assert f"images/{gone}.png" not in archive.namelist()
    assert len(archive.namelist()) == 2  # the JSON and the other image


def test_a_second_request_is_refused_while_one_is_pending(studio: Services) -> None:
    alice = make_library(studio, "alice", images=0)
    first = export.request_export(studio, alice.user_id)
    with pytest.raises(InvalidInput, match="already being prepared"):
        export.request_export(studio, alice.user_id)

    run_queued(studio)
    second = export.request_export(studio, alice.user_id)  # the first is ready now
    assert second.id != first.id
    assert second.status == "pending"

    with studio.uow() as uow:  # a pending export an hour old was lost: it no longer blocks
        uow.session.execute(
            sa.update(DataExport)
            .where(DataExport.id == second.id)
            .values(created_at=utcnow() - timedelta(hours=2))
        )
        uow.commit()
    third = export.request_export(studio, alice.user_id)
    assert third.status == "pending"
    with studio.uow() as uow:
        stale = uow.session.get(DataExport, second.id)
        assert stale is not None
        assert stale.status == "failed"
        assert stale.error


def test_building_an_export_twice_changes_nothing(studio: Services) -> None:
    alice = make_library(studio, "alice", images=1)
    view = export.request_export(studio, alice.user_id)
    run_queued(studio)
    before = export.latest_export(studio, alice.user_id)
    raw, _ = export_zip(studio, view)

    export.build_export(studio, view.id)

    after = export.latest_export(studio, alice.user_id)
    assert before is not None
    assert after is not None
    assert (after.status, after.finished_at, after.size_bytes) == ("ready", before.finished_at, len(raw))
    assert export_zip(studio, view)[0] == raw


def test_a_store_failure_fails_the_export_without_raising(
    studio: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_library(studio, "alice", images=1)
    view = export.request_export(studio, alice.user_id)

    def refuse(key: str, data: object, content_type: str) -> None:
        raise StorageError("the bucket is not reachable")

    monkeypatch.setattr(studio.storage, "put", refuse)
    export.build_export(studio, view.id)

    failed = export.latest_export(studio, alice.user_id)
    assert failed is not None
    assert (failed.status, failed.url) == ("failed", None)
    assert "not reachable" in (failed.error or "")


def test_a_queue_failure_fails_the_export_and_says_so(
    studio: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_library(studio, "alice", images=0)

    def refuse(*args: object, **kwargs: object) -> str:
        raise QueueError("Redis is not reachable")

    monkeypatch.setattr(studio.queue, "enqueue", refuse)
    with pytest.raises(QueueError, match="could not start your export"):
        export.request_export(studio, alice.user_id)
    view = export.latest_export(studio, alice.user_id)
    assert view is not None
    assert view.status == "failed"


# --- deletion ---------------------------------------------------------------------------------------------


def user_row(services: Services, user_id: uuid.UUID) -> dict[str, Any]:
    with services.uow() as uow:
        user = uow.session.get(User, user_id)
        assert user is not None
        return {column.key: getattr(user, column.key) for column in sa.inspect(User).column_attrs}


def test_delete_refuses_a_wrong_confirmation_or_password_and_changes_nothing(studio: Services) -> None:
    alice = make_library(studio, "alice", images=1)
    before = user_row(studio, alice.user_id)

    with pytest.raises(InvalidForm, match=f"Type your username, {alice.username}, to confirm"):
        deletion.delete_account(studio, alice.user_id, confirmation="alice", password=PASSWORD)
    for wrong in ("not the password", None):
        with pytest.raises(WrongCredentials, match="Your password is not right"):
            deletion.delete_account(studio, alice.user_id, confirmation=alice.username, password=wrong)

    assert user_row(studio, alice.user_id) == before
    assert sessions.get_account(studio, alice.user_id) is not None
    assert isinstance(studio.queue, FakeQueue)
    assert not any(job["func"].endswith("purge_account") for job in studio.queue.jobs)


def test_delete_then_purge_erases_the_account_and_keeps_the_ledger(backend: Services) -> None:
    alice, bob = make_library(backend, "alice"), make_library(backend, "bob", images=1)
    export.request_export(backend, alice.user_id)
    run_queued(backend)
    made = export.latest_export(backend, alice.user_id)
    assert made is not None
    assert made.status == "ready"
    with backend.uow() as uow:
        export_key = uow.session.scalar(sa.select(DataExport.object_key).where(DataExport.id == made.id))
    assert export_key is not None
    ledger = sa.select(CreditLedger.id).where(CreditLedger.user_id == alice.user_id)
    ledger_rows = count(backend, ledger)
    version = user_row(backend, alice.user_id)["session_version"]
    backend.storage.delete(alice.keys[-1])  # an object already gone (an interrupted purge) is fine

    deletion.delete_account(
        backend, alice.user_id, confirmation=f"  {alice.username.upper()} ", password=PASSWORD
    )

    closed = user_row(backend, alice.user_id)
    assert closed["deleted_at"] is not None
    assert closed["session_version"] == version + 1
    assert closed["sessions_valid_from"] is not None
    assert sessions.get_account(backend, alice.user_id) is None
    assert sessions.session_account(backend, alice.user_id, version) is None

    run_queued(backend)

    for key in [*alice.keys, export_key]:
        assert not backend.storage.exists(key), key
    assert all(backend.storage.exists(key) for key in bob.keys)
    for query in (
        sa.select(Image.id).where(Image.owner_id == alice.user_id),
        sa.select(ImageTag.tag).where(ImageTag.owner_id == alice.user_id),
        sa.select(Project.id).where(Project.owner_id == alice.user_id),
        sa.select(Collection.id).where(Collection.owner_id == alice.user_id),
        sa.select(DataExport.id).where(DataExport.user_id == alice.user_id),
    ):
        assert count(backend, query) == 0
    assert count(backend, sa.select(Image.id).where(Image.owner_id == bob.user_id)) == 1
    assert count(backend, ledger) == ledger_rows

    def anonymised() -> None:
        user = user_row(backend, alice.user_id)
        assert user["email"] == f"deleted-{alice.user_id.hex}@deleted.invalid"
        assert user["username"] == f"deleted-{alice.user_id.hex[:12]}"
        assert user["name"] == "Deleted account"
        assert user["disabled_at"] is not None
        for secret in ("password_hash", "avatar_key", "totp_secret", "recovery_codes", "totp_enabled_at"):
            assert user[secret] is None, secret
        with backend.uow() as uow:
            job = uow.session.get(GenerationJob, alice.job_ids[0])
            assert job is not None
            assert (job.prompt, job.params, job.request, job.credits_settled) == ("", {}, {}, 2)

    anonymised()
    deletion.purge_account(backend, alice.user_id)  # a second run is harmless
    anonymised()
    assert count(backend, ledger) == ledger_rows
    assert user_row(backend, bob.user_id)["deleted_at"] is None


def test_purge_leaves_an_account_that_was_not_deleted_alone(studio: Services) -> None:
    alice = make_library(studio, "alice", images=1)
    before = user_row(studio, alice.user_id)
    deletion.purge_account(studio, alice.user_id)
    assert user_row(studio, alice.user_id) == before
    assert all(studio.storage.exists(key) for key in alice.keys)


def test_export_and_deletion_through_the_in_process_runner(embedded_services: Services) -> None:
    alice = make_library(embedded_services, "alice", images=1)

    export.request_export(embedded_services, alice.user_id)

    def ready() -> bool:
        view = export.latest_export(embedded_services, alice.user_id)
        return view is not None and view.status == "ready"

    wait_for(ready)
    deletion.delete_account(embedded_services, alice.user_id, confirmation=alice.username, password=PASSWORD)
    wait_for(lambda: user_row(embedded_services, alice.user_id)["username"].startswith("deleted-"))
    assert not any(embedded_services.storage.exists(key) for key in alice.keys)
