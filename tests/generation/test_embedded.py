"""Embedded mode end to end: the demo provider, the in-process runner, SQLite and local files."""

from __future__ import annotations

import io
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image, ImageChops, ImageStat

from studio import bootstrap
from studio.adapters.db.models import GenerationJob, UsageLog, utcnow
from studio.adapters.db.models import Image as ImageRow
from studio.adapters.demo import DemoProvider
from studio.domain.accounts import Role
from studio.domain.credits import FREE_PLAN_CREDITS, LedgerKind
from studio.domain.generation import JobStatus, Operation
from studio.domain.parameters import Request
from studio.errors import InsufficientCredits, InvalidInput, InvalidParameters
from studio.services.accounts import demo
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation import iterate, reconciler, submissions, views
from studio.services.generation.iterate import Step
from studio.services.generation.views import JobView
from studio.services.library import lineage
from tests.support.builders import ledger_rows
from tests.support.env import wait_for
from tests.support.services import embedded_settings, installed


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Services]:
    """Embedded services with a quicker demo provider (0.3-0.6 s instead of 1-3 s)."""
    with installed(embedded_settings(tmp_path / "data", reconcile_interval_seconds=3600)) as services:
        services.make_provider = lambda name: DemoProvider(min_seconds=0.3, max_seconds=0.6)
        yield services


@pytest.fixture
def user_id(studio: Services) -> uuid.UUID:
    return demo.sign_in_demo(studio, Role.USER).id


def finished(studio: Services, user_id: uuid.UUID, job_id: uuid.UUID) -> JobView:
    wait_for(lambda: views.get_job(studio, user_id, job_id).finished, timeout=20)
    return views.get_job(studio, user_id, job_id)


def balanced(studio: Services, user_id: uuid.UUID) -> int:
    with studio.uow() as uow:
        balance = ledger.balance(uow.session, user_id)
        assert ledger.ledger_sum(uow.session, user_id) == balance
        return balance


def left_behind(services: Services, user_id: uuid.UUID, key: str, **fields: Any) -> uuid.UUID:
    """A job row with its 1-credit reservation, as an earlier run (or another process) left it."""
    with services.uow() as uow:
        job = GenerationJob(
            owner_id=user_id,
            model_endpoint="fal-ai/flux/schnell",
            params={"prompt": "x"},
            idempotency_key=key,
            credits_reserved=1,
            deadline_at=utcnow() + timedelta(minutes=5),
            **({"provider": "demo", "attempts": 1} | fields),
        )
        uow.session.add(job)
        uow.session.flush()
        ledger.change_balance(uow.session, user_id, -1, LedgerKind.RESERVE, "test", job_id=job.id)
        uow.commit()
        return job.id


def test_following_a_job_signs_its_file_urls_once(
    studio: Services, user_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress panel reads its job every second: the URLs come from the one cache on the services."""
    job = submissions.start_generation(studio, user_id, Request("fal-ai/flux/schnell", "a quay"), "urls-1")
    done = finished(studio, user_id, job.id)
    signed: list[str] = []
    sign = studio.storage.url

    def counted(key: str, *args: Any, **kwargs: Any) -> str:
        signed.append(key)
        return sign(key, *args, **kwargs)

    monkeypatch.setattr(studio.storage, "url", counted)
    again = [views.get_job(studio, user_id, job.id) for _ in range(5)]
    assert signed == []  # signed when the job was first shown, then reused
    assert {(i.url, i.thumb_url, i.download_url) for view in again for i in view.images} == {
        (i.url, i.thumb_url, i.download_url) for i in done.images
    }


def test_a_generation_runs_end_to_end_and_is_charged_once(
    studio: Services, user_id: uuid.UUID, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="studio.services.generation")
    request = Request(
        "fal-ai/flux/dev", "a lighthouse at dusk", params={"num_images": 2, "image_size": "square"}
    )
    job = submissions.start_generation(studio, user_id, request, "click-1")
    assert not job.finished  # queued, or already picked up by a job thread
    assert job.credits_reserved == 2
    done = finished(studio, user_id, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error_message
    assert done.credits_settled == 2
    assert done.progress == 1.0
    assert len(done.images) == 2
    assert done.request.params["seed"] == done.images[0].seed  # the seed the studio picked is kept
    assert done.logs[-1].startswith("Step ")
    for image in done.images:
        assert (image.width, image.height) == (512, 512)
        assert image.url.startswith("http://localhost:8501/api/files/")
    with studio.uow() as uow:
        job_row = uow.session.get(GenerationJob, job.id)
        assert job_row is not None
        assert job_row.provider == "demo"
        assert job_row.provider_request_id is not None
        assert job_row.result is not None
        assert job_row.result["images"][0]["url"] == "data:omitted"  # megabytes of data: URI not kept
        usage = uow.session.scalars(sa.select(UsageLog).where(UsageLog.job_id == job.id)).one()
        assert (usage.outcome, usage.images, usage.credits, usage.provider_cost_micros) == (
            "succeeded",
            2,
            2,
            0,
        )
        assert usage.queue_wait_ms is not None
        assert usage.run_ms is not None
    for original, thumbnail in job_row_images(studio, job.id):
        assert Image.open(io.BytesIO(studio.storage.get(original))).size == (512, 512)
        thumb = Image.open(io.BytesIO(studio.storage.get(thumbnail)))
        assert thumb.format == "WEBP"
        assert max(thumb.size) == 384
    assert ledger_rows(studio, user_id) == [("grant", FREE_PLAN_CREDITS), ("reserve", -2), ("settle", 0)]
    assert balanced(studio, user_id) == FREE_PLAN_CREDITS - 2
    [line] = [
        record.getMessage() for record in caplog.records if record.getMessage().startswith("job finished")
    ]
    for field in (
        f"job={job.id}",
        f"user={user_id}",
        "model=fal-ai/flux/dev",
        "outcome=succeeded",
        "run_ms=",
    ):
        assert field in line
    assert re.search(r"queue_wait_ms=\d+", line)


def job_row_images(studio: Services, job_id: uuid.UUID) -> list[tuple[str, str]]:
    from studio.adapters.db.models import Image as ImageRow

    with studio.uow() as uow:
        rows = uow.session.scalars(sa.select(ImageRow).where(ImageRow.job_id == job_id))
        return [(row.storage_key, row.thumb_key or "") for row in rows]


def test_the_same_key_twice_is_one_job(studio: Services, user_id: uuid.UUID) -> None:
    request = Request("fal-ai/flux/schnell", "a fox")
    first = submissions.start_generation(studio, user_id, request, "double-click")
    second = submissions.start_generation(studio, user_id, request, "double-click")
    assert first.id == second.id
    assert [kind for kind, _ in ledger_rows(studio, user_id)].count("reserve") == 1
    finished(studio, user_id, first.id)


def test_bad_parameters_are_refused_before_anything_is_reserved(studio: Services, user_id: uuid.UUID) -> None:
    with pytest.raises(InvalidParameters, match=r"Steps \(num_inference_steps\) must be between 1 and 12"):
        submissions.start_generation(
            studio, user_id, Request("fal-ai/flux/schnell", "a fox", params={"num_inference_steps": 40}), "k"
        )
    with pytest.raises(InvalidInput, match="not available"):
        submissions.start_generation(studio, user_id, Request("fal-ai/unknown", "a fox"), "k")
    assert ledger_rows(studio, user_id) == [("grant", FREE_PLAN_CREDITS)]


def test_concurrent_submits_never_overspend(studio: Services, user_id: uuid.UUID) -> None:
    with studio.uow() as uow:
        ledger.change_balance(
            uow.session, user_id, -(FREE_PLAN_CREDITS - 3), LedgerKind.ADJUST, "test: leave 3"
        )
        uow.commit()
    accepted: list[JobView] = []
    refused: list[InsufficientCredits] = []
    barrier = threading.Barrier(10)

    def submit(n: int) -> None:
        barrier.wait()
        try:
            accepted.append(
                submissions.start_generation(
                    studio, user_id, Request("fal-ai/flux/schnell", f"x{n}"), f"k{n}"
                )
            )
        except InsufficientCredits as err:
            refused.append(err)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(accepted), len(refused)) == (3, 7)
    assert "This uses 1 credit and you have 0. Upgrade your plan, or wait until" in str(refused[0])
    assert refused[0].renews_on is not None
    for job in accepted:
        finished(studio, user_id, job.id)
    assert balanced(studio, user_id) == 0


def test_cancel_while_running_refunds_and_stops(studio: Services, user_id: uuid.UUID) -> None:
    studio.make_provider = lambda name: DemoProvider(min_seconds=30, max_seconds=30)
    job = submissions.start_generation(studio, user_id, Request("fal-ai/flux/dev", "slow"), "k")
    wait_for(lambda: views.get_job(studio, user_id, job.id).status is JobStatus.RUNNING, timeout=10)
    submissions.cancel_job(studio, user_id, job.id)
    done = finished(studio, user_id, job.id)
    assert done.status is JobStatus.CANCELLED
    assert done.images == []
    assert ledger_rows(studio, user_id)[-2:] == [("reserve", -1), ("refund", 1)]
    assert balanced(studio, user_id) == FREE_PLAN_CREDITS
    with pytest.raises(InvalidInput, match="already cancelled"):
        submissions.cancel_job(studio, user_id, job.id)


def test_nobody_else_can_see_or_cancel_a_job(studio: Services, user_id: uuid.UUID) -> None:
    from studio.errors import NotFound

    admin = demo.sign_in_demo(studio, Role.ADMIN)
    job = submissions.start_generation(studio, user_id, Request("fal-ai/flux/schnell", "mine"), "k")
    with pytest.raises(NotFound):
        views.get_job(studio, admin.id, job.id)
    with pytest.raises(NotFound):
        submissions.cancel_job(studio, admin.id, job.id)
    assert views.recent_jobs(studio, admin.id) == []
    finished(studio, user_id, job.id)


def test_a_job_lost_with_a_restart_is_resolved_by_the_reconciler(
    studio: Services, user_id: uuid.UUID
) -> None:
    """A demo request does not survive a restart: the re-dispatched job fails honestly and is refunded."""
    job = submissions.start_generation(studio, user_id, Request("fal-ai/flux/schnell", "x"), "k")
    finished(studio, user_id, job.id)
    lost = left_behind(  # a second job, as a crashed run left it: running, silent for minutes
        studio,
        user_id,
        "lost",
        provider_request_id="demo-from-before-the-restart",
        status=JobStatus.RUNNING.value,
        heartbeat_at=utcnow() - timedelta(minutes=5),
    )
    outcome = reconciler.reconcile(studio)
    assert outcome.redispatched == [lost]
    done = finished(studio, user_id, lost)
    assert done.status is JobStatus.FAILED
    assert done.error_message is not None
    assert "restarted" in done.error_message
    assert balanced(studio, user_id) == FREE_PLAN_CREDITS - 1
    assert reconciler.reconcile(studio).redispatched == []


def test_a_job_for_an_unconfigured_provider_fails_refunded_and_admins_see_it(
    studio: Services, user_id: uuid.UUID
) -> None:
    """A job accepted for fal that a worker without FAL_KEY picks up: a configuration error, not a hang."""
    from studio.services.admin.system import provider_incidents
    from studio.services.generation import lifecycle

    studio.make_provider = bootstrap.provider_factory(studio.settings)
    job_id = left_behind(studio, user_id, "fal-job", provider="fal")
    lifecycle.queue_attempt(studio, job_id, 1, 0)
    done = finished(studio, user_id, job_id)
    assert done.status is JobStatus.FAILED
    assert done.error_message is not None
    assert done.error_message.startswith("The image service is not configured. An administrator needs to fix")
    assert done.error_message.endswith(" returned.")
    assert balanced(studio, user_id) == FREE_PLAN_CREDITS
    [incident] = provider_incidents(studio)
    assert (incident.model, incident.code) == ("fal-ai/flux/schnell", "config")


def test_the_reconciler_runs_on_its_own_schedule(tmp_path: Path) -> None:
    """No one calls reconcile(): the app's duties run the pass each interval, without a queued job."""
    settings = embedded_settings(tmp_path / "data", reconcile_interval_seconds=1, job_stale_seconds=1)
    with installed(settings) as services:
        user_id = demo.sign_in_demo(services, Role.USER).id
        stuck = left_behind(
            services,
            user_id,
            "stuck",
            provider_request_id="demo-lost",
            status=JobStatus.SUBMITTED.value,
            attempts=reconciler.MAX_ATTEMPTS,
            heartbeat_at=utcnow() - timedelta(minutes=5),
        )
        done = finished(services, user_id, stuck)
        assert done.status is JobStatus.FAILED
        assert done.error_message == "The job stopped responding. Your 1 credit was returned."
        assert balanced(services, user_id) == FREE_PLAN_CREDITS
        assert services.queue.stats().scheduled == 0  # nothing waits on a scheduler


def test_a_superseded_attempt_never_ends_the_job(studio: Services, user_id: uuid.UUID) -> None:
    """The reconciler gave the job to attempt 2; a late failure of attempt 1 must not refund or end it."""
    from studio.services.generation.pipeline import JobRun

    job_id = left_behind(studio, user_id, "superseded", status=JobStatus.RUNNING.value, attempts=2)
    JobRun(studio, job_id, 1).fail("unavailable", "attempt 1 gave up")
    job = views.get_job(studio, user_id, job_id)
    assert job.status is JobStatus.RUNNING
    assert balanced(studio, user_id) == FREE_PLAN_CREDITS - 1
    assert JobRun(studio, job_id, 1).claim() is None  # and it cannot claim the job back


# --- the same form sent again ---------------------------------------------------------------------------


def test_the_same_form_sent_again_within_seconds_is_the_same_job(
    studio: Services, user_id: uuid.UUID
) -> None:
    """Clicks a rerender apart carry new submission keys: the request itself tells them apart."""
    import time_machine

    request = Request("fal-ai/flux/schnell", "a harbour at dawn")
    with time_machine.travel(utcnow(), tick=True) as clock:
        first = submissions.start_generation(studio, user_id, request, "click-a")
        assert submissions.start_generation(studio, user_id, request, "click-b").id == first.id
        changed = submissions.start_generation(
            studio, user_id, Request(request.model, "a harbour at dusk"), "c"
        )
        assert changed.id != first.id  # the person changed something
        again = submissions.start_generation(studio, user_id, request, "click-d", again=True)
        assert again.id != first.id  # the person asked for another run
        clock.shift(timedelta(seconds=submissions.REPEAT_SECONDS + 1))
        later = submissions.start_generation(studio, user_id, request, "click-e")
        assert later.id not in (first.id, again.id)
    reserves = [row for row in ledger_rows(studio, user_id=user_id) if row[0] == "reserve"]
    assert len(reserves) == 4


def test_a_failure_message_always_says_what_became_of_the_credits(
    studio: Services, user_id: uuid.UUID
) -> None:
    from studio.services.generation import lifecycle

    refused = left_behind(studio, user_id, "refused")
    lifecycle.fail(studio, refused, "invalid", "The model refused these parameters: prompt: prompt rejected")
    assert views.get_job(studio, user_id, refused).error_message == (
        "The model refused these parameters: prompt: prompt rejected. Your 1 credit was returned."
    )
    free = left_behind(studio, user_id, "free")
    with studio.uow() as uow:
        uow.session.execute(
            sa.update(GenerationJob).where(GenerationJob.id == free).values(credits_reserved=0)
        )
        uow.commit()
    lifecycle.fail(studio, free, "stuck", reconciler.STUCK_MESSAGE)
    assert views.get_job(studio, user_id, free).error_message == (
        "The job stopped responding. Nothing was charged."
    )


def test_the_jobs_of_a_dead_worker_are_taken_over_once(studio: Services, user_id: uuid.UUID) -> None:
    from studio.adapters.queue import Abandoned
    from studio.duties import Duties
    from tests.support.fakes import FakeQueue

    studio.queue = queue = FakeQueue()
    duties = Duties(studio)
    running = left_behind(studio, user_id, "dead-worker", status=JobStatus.RUNNING.value, attempts=1)
    duties.take_over(
        Abandoned(f"gen-{running}-1", "studio.jobs.run_generation", (str(running), 1), "default")
    )
    duties.take_over(
        Abandoned(f"gen-{running}-1", "studio.jobs.run_generation", (str(running), 1), "default")
    )
    duties.take_over(Abandoned("zip-1", "studio.jobs.build_zip", ("a", "b", ["c"]), "low"))
    duties.take_over(
        Abandoned("zip-1-again", "studio.jobs.build_zip", ("a", "b", ["c"]), "low")
    )  # died twice
    duties.take_over(
        Abandoned("renew-plans-9", "studio.jobs.renew_plans", (), "low")
    )  # its next slot runs it
    # (The app's fair-queue pass may send other tests' waiting jobs meanwhile: only these jobs count.)
    ours = {f"gen-{running}-1", f"gen-{running}-2", "zip-1", "zip-1-again", "renew-plans-9"}
    assert [(job["id"], job["queue"]) for job in queue.jobs if job["id"] in ours] == [
        (f"gen-{running}-2", "high"),  # the next attempt, ahead of new work
        ("zip-1-again", "low"),
    ]
    assert views.get_job(studio, user_id, running).status is JobStatus.RUNNING  # waiting for a worker


def test_every_iteration_runs_in_embedded_mode_with_the_demo_provider(
    studio: Services, user_id: uuid.UUID
) -> None:
    """The demo provider does every operation locally (Pillow), each output labelled as demo output, on
    the same job model: lineage, thumbnails and credits as with fal."""
    view = submissions.start_generation(
        studio,
        user_id,
        Request("fal-ai/flux/schnell", "a lighthouse", params={"image_size": "square"}),
        "src",
    )
    assert finished(studio, user_id, view.id).status is JobStatus.SUCCEEDED
    source = finished(studio, user_id, view.id).images[0]
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (0, 0, 256, 512))
    drawn = io.BytesIO()
    mask.save(drawn, "PNG")
    steps = {
        Operation.VARIATION: Step(Operation.VARIATION, source.id, count=2),
        Operation.REGENERATE: Step(Operation.REGENERATE, source.id),
        Operation.IMAGE_TO_IMAGE: Step(Operation.IMAGE_TO_IMAGE, source.id, prompt="in snow", strength=0.5),
        Operation.INPAINT: Step(Operation.INPAINT, source.id, prompt="a kite", mask_png=drawn.getvalue()),
        Operation.OUTPAINT: Step(Operation.OUTPAINT, source.id, ratio="16:9"),
        Operation.UPSCALE: Step(Operation.UPSCALE, source.id, factor=2),
        Operation.REMOVE_BACKGROUND: Step(Operation.REMOVE_BACKGROUND, source.id),
    }
    sizes = {
        Operation.VARIATION: (512, 512),
        Operation.REGENERATE: (512, 512),
        Operation.IMAGE_TO_IMAGE: (512, 512),
        Operation.INPAINT: (512, 512),
        Operation.OUTPAINT: (911, 512),
        Operation.UPSCALE: (1024, 1024),
        Operation.REMOVE_BACKGROUND: (512, 512),
    }
    before = balanced(studio, user_id)
    jobs = {op: iterate.start(studio, user_id, step, f"iter-{op.value}") for op, step in steps.items()}
    spent = 0
    original = studio.storage.get(_key_of(studio, source.id))
    for op, job in jobs.items():
        done = finished(studio, user_id, job.id)
        assert done.status is JobStatus.SUCCEEDED, (op, done.error_message)
        assert done.credits_settled == job.credits_reserved
        spent += job.credits_reserved
        with studio.uow() as uow:
            rows = uow.session.scalars(sa.select(ImageRow).where(ImageRow.job_id == job.id)).all()
            assert [(row.operation, row.parent_image_id) for row in rows] == [(op.value, source.id)] * len(
                rows
            )
            assert all((row.width, row.height) == sizes[op] for row in rows)
            assert all(row.thumb_key for row in rows)
            first = rows[0]
            data = studio.storage.get(first.storage_key)
            mask_key = first.mask_key
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            if op is Operation.REMOVE_BACKGROUND:
                assert picture.mode == "RGBA"
                assert mask_key is not None
                assert studio.storage.exists(mask_key)
            if op is Operation.INPAINT:  # the unmasked half is the source's (JPEG-encoded both times)
                with Image.open(io.BytesIO(original)) as src:
                    right = (300, 0, 512, 400)
                    diff = ImageChops.difference(
                        picture.convert("RGB").crop(right), src.convert("RGB").crop(right)
                    )
                    assert max(ImageStat.Stat(diff).mean) < 3
    assert balanced(studio, user_id) == before - spent
    assert len(lineage.family(studio, user_id, source.id).nodes) == 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1


def _key_of(studio: Services, image_id: uuid.UUID) -> str:
    with studio.uow() as uow:
        key = uow.session.scalar(sa.select(ImageRow.storage_key).where(ImageRow.id == image_id))
    assert key is not None
    return key
