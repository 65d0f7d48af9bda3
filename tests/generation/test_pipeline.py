"""The generation pipeline on the real stack (ARCHITECTURE.md "The generation pipeline", "Credits").

PostgreSQL (committed rows: a worker process must see them), Redis, an S3 server (moto), and the fake fal
queue server over TLS driven by the real fal-client inside real `python worker.py` processes. The test
process calls the services as a page does; the workers run with the same settings as environment variables.

One worker serves most tests (`shared`); a test that kills its worker or needs other timeouts starts its
own on its own queue. Each test makes its own account, so rows of other tests never matter.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, SimpleWorker

from studio.adapters.db.models import CreditLedger, GenerationJob, utcnow
from studio.domain.catalogue import BY_ENDPOINT, CATALOGUE, Kind, ModelSpec
from studio.domain.credits import LedgerKind, price
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request, provider_arguments
from studio.errors import InsufficientCredits
from studio.services.context import Services
from studio.services.dispatch import generation_queue_id
from studio.services.generation import submissions
from studio.services.generation.reconciler import MAX_ATTEMPTS, reconcile
from studio.services.generation.submissions import cancel_job, start_generation
from studio.services.generation.views import JobView, get_job
from studio.services.library import details
from tests.support.builders import ledger_rows, new_user
from tests.support.env import wait_for
from tests.support.fal_server import FakeFal
from tests.support.stack import (
    SCHNELL,
    Running,
    Stack,
    StackConfig,
    WorkerProcess,
    assert_balanced,
    assert_refunded,
    assert_succeeded,
    job_row,
    sent,
    small_request,
    update_job,
    wait_finished,
)


@pytest.fixture
def start_worker(stack: Stack, redis_conn: Redis) -> Iterator[Callable[[StackConfig], WorkerProcess]]:
    """Start workers of this test's own configurations; every one is stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(config: StackConfig) -> WorkerProcess:
        worker = WorkerProcess(config, stack.workdir)
        started.append(worker)
        worker.wait_ready(redis_conn)
        return worker

    yield start
    for worker in started:
        worker.stop()


def request_id_of(services: Services, job_id: uuid.UUID) -> str:
    request_id = job_row(services, job_id).provider_request_id
    assert request_id is not None
    return request_id


# --- 1. parameters: exactly what each endpoint accepts ------------------------------------------------------


def _some_params(spec: ModelSpec, index: int) -> dict[str, Any]:
    """A few values other than the defaults, for whichever of them this model takes."""
    chosen: dict[str, Any] = {"num_images": 1, "seed": 1000 + index}
    for param in spec.params:
        if param.name == "image_size":
            chosen[param.name] = "square"
        elif param.name == "aspect_ratio":
            chosen[param.name] = "1:1"
        elif param.name in ("output_format", "format", "image_format"):
            chosen[param.name] = "png"
        elif param.name == "num_inference_steps":
            chosen[param.name] = 3
        elif param.name == "guidance_scale":
            chosen[param.name] = 4.5
        elif param.kind is Kind.BOOL:
            chosen[param.name] = not param.default
    return chosen


def test_each_model_receives_exactly_the_parameters_its_endpoint_accepts(
    shared: Running, fake_fal: FakeFal
) -> None:
    with shared.config.services() as services:
        user = new_user(services, credits=200)
        started: dict[str, tuple[JobView, dict[str, Any]]] = {}
        for index, spec in enumerate(spec for spec in CATALOGUE if not spec.inputs):
            chosen = _some_params(spec, index)
            negative = "blurry, text" if spec.negative_prompt else ""
            request = Request(spec.endpoint_id, f"a red fox, take {index}", negative, "None", chosen)
            started[spec.endpoint_id] = (start_generation(services, user, request, f"model-{index}"), chosen)
        views = {
            endpoint: wait_finished(services, user, view.id, shared.worker, timeout=60)
            for endpoint, (view, _) in started.items()
        }
        submits = {submit.request_id: submit for submit in fake_fal.submits}
        for endpoint, view in views.items():
            spec = BY_ENDPOINT[endpoint]
            assert_succeeded(services, user, view.id)
            row = job_row(services, view.id)
            submitted = submits[row.provider_request_id]
            assert submitted.endpoint_id == endpoint
            assert sent(fake_fal, view.request) == [submitted]
            assert submitted.headers["authorization"] == "Key test-key:test-secret"
            assert submitted.body == row.params == provider_arguments(spec, view.request)
            accepted = {"prompt", *(param.name for param in spec.params), *spec.fixed}
            if spec.negative_prompt:
                accepted.add("negative_prompt")
            assert set(submitted.body) <= accepted, endpoint
            chosen = started[endpoint][1]
            assert {name: submitted.body[name] for name in chosen} == chosen
        body = {
            endpoint: submits[job_row(services, v.id).provider_request_id].body
            for endpoint, v in views.items()
        }
    ultra = body["fal-ai/flux-pro/v1.1-ultra"]
    assert "image_size" not in ultra
    assert ultra["aspect_ratio"] == "1:1"
    assert "guidance_scale" not in body["rundiffusion-fal/juggernaut-flux/lightning"]
    sdxl = body["fal-ai/fast-sdxl"]
    assert sdxl["format"] == "png"
    assert "output_format" not in sdxl
    assert sdxl["negative_prompt"] == "blurry, text"
    assert set(body["fal-ai/aura-flow"]) <= {
        "prompt",
        "num_images",
        "seed",
        "guidance_scale",
        "num_inference_steps",
        "expand_prompt",
    }
    assert body["fal-ai/lora"]["model_name"] == "stabilityai/stable-diffusion-xl-base-1.0"
    assert body["fal-ai/lora"]["image_format"] == "png"
    for endpoint, arguments in body.items():
        if endpoint not in ("fal-ai/fast-sdxl", "fal-ai/lora"):
            assert "negative_prompt" not in arguments
            assert "format" not in arguments


# --- 2. progress --------------------------------------------------------------------------------------------


def test_the_job_row_follows_the_queue_position_then_the_logs(shared: Running, fake_fal: FakeFal) -> None:
    steps = [f"step {n}/4" for n in range(1, 5)]
    fake_fal.configure(SCHNELL, queue_time=1.2, queue_positions=[3, 2, 1, 0], latency=1.0, logs=steps)
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "progress")
        seen: list[JobView] = []

        def record() -> bool:
            seen.append(get_job(services, user, view.id))
            return seen[-1].finished

        shared.worker.wait(record, timeout=20)
        assert_succeeded(services, user, view.id)
    queued = [
        i for i, v in enumerate(seen) if v.status is JobStatus.SUBMITTED and v.queue_position is not None
    ]
    running = [i for i, v in enumerate(seen) if v.status is JobStatus.RUNNING]
    assert queued, "never saw the job waiting in fal's queue"
    positions = [seen[i].queue_position or 0 for i in queued]
    assert set(positions) <= {3, 2, 1, 0}
    assert len(set(positions)) >= 2, "the row did not follow the queue position"
    assert positions == sorted(positions, reverse=True)
    assert any(seen[i].logs for i in running), "never saw the job running with logs"
    for i in running:
        assert seen[i].logs == steps[: len(seen[i].logs)]
        assert seen[i].queue_position is None
    assert queued[-1] < running[0]
    progress = [v.progress for v in seen]
    assert progress == sorted(progress)
    assert 0 < seen[running[0]].progress < 1.0


# --- 3. the model refuses the request -----------------------------------------------------------------------


def test_a_422_from_the_model_fails_the_job_with_its_message_and_refunds(
    shared: Running, fake_fal: FakeFal
) -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "prompt mentions a forbidden word", "type": "value_error"}]
    fake_fal.configure(SCHNELL, latency=0.2, result_error=(422, {"detail": detail}))
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "refused")
        done = wait_finished(services, user, view.id, shared.worker)
        assert done.status is JobStatus.FAILED
        assert done.error_message is not None
        assert "prompt mentions a forbidden word" in done.error_message
        assert done.images == []
        job = assert_refunded(services, view.id, JobStatus.FAILED)
        assert job.error_code == "invalid"
        assert ledger_rows(services, user) == [("grant", 10), ("reserve", -1), ("refund", 1)]
        assert_balanced(services, user, 10)


# --- 4. transient errors on submit --------------------------------------------------------------------------


def test_a_503_and_a_429_on_submit_are_retried_and_the_job_succeeds(
    shared: Running, fake_fal: FakeFal
) -> None:
    fake_fal.configure(SCHNELL, latency=0.2, submit_errors=[503, 429])
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        request = small_request()
        view = start_generation(services, user, request, "retried")
        done = wait_finished(services, user, view.id, shared.worker)
        assert done.status is JobStatus.SUCCEEDED, done.error_message
        assert_succeeded(services, user, view.id)
        # 503: the studio retried with backoff; 429: fal-client itself retried.
        attempts = sent(fake_fal, request)
        assert [s.status_code for s in attempts] == [503, 429, 200]
        assert [s.request_id for s in attempts if s.accepted] == [
            job_row(services, view.id).provider_request_id
        ]
        assert_balanced(services, user, 9)


# --- 5. the provider never finishes -------------------------------------------------------------------------


def test_a_job_past_its_deadline_is_cancelled_at_fal_failed_and_refunded(
    stack: Stack, start_worker: Callable[[StackConfig], WorkerProcess], fake_fal: FakeFal
) -> None:
    config = stack.config(generation_timeout_seconds=3)
    fake_fal.configure(SCHNELL, never_completes=True)
    with config.services() as services:
        worker = start_worker(config)
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "too-slow")
        done = wait_finished(services, user, view.id, worker, timeout=20)
        assert done.status is JobStatus.FAILED
        assert done.error_message is not None
        assert "did not finish within 3 s" in done.error_message
        job = assert_refunded(services, view.id, JobStatus.FAILED)
        assert job.error_code == "timeout"
        assert job.provider_request_id is not None
        assert fake_fal.cancels.count(job.provider_request_id) == 1
        assert_balanced(services, user, 10)


# --- 6. unusable results ------------------------------------------------------------------------------------


def _not_an_image() -> dict[str, Any]:
    data = base64.b64encode(b"<html>certainly not a PNG</html>").decode()
    return {"images": [{"url": f"data:image/png;base64,{data}", "width": 512, "height": 512}]}


@pytest.mark.parametrize(
    "result_body",
    [
        pytest.param({"images": "not-a-list"}, id="images-not-a-list"),
        pytest.param({"seed": 3}, id="no-images"),
        pytest.param(_not_an_image(), id="bytes-not-an-image"),
        pytest.param("this is not JSON", id="not-json"),
    ],
)
def test_an_unusable_result_fails_the_job_and_refunds(
    shared: Running, fake_fal: FakeFal, result_body: Any
) -> None:
    fake_fal.configure(SCHNELL, latency=0.1, result_body=result_body)
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "garbage")
        done = wait_finished(services, user, view.id, shared.worker)
        assert done.status is JobStatus.FAILED
        assert done.error_message is not None
        assert "unusable result" in done.error_message
        job = assert_refunded(services, view.id, JobStatus.FAILED)
        assert job.error_code == "bad_output"
        assert_balanced(services, user, 10)


def test_an_output_url_that_cannot_be_downloaded_fails_the_job_and_refunds(
    shared: Running, fake_fal: FakeFal
) -> None:
    missing = {"images": [{"url": f"{fake_fal.base_url}/files/{uuid.uuid4()}/0.png"}]}
    fake_fal.configure(SCHNELL, latency=0.1, result_body=missing)
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "missing-file")
        done = wait_finished(services, user, view.id, shared.worker)
        assert done.status is JobStatus.FAILED
        assert done.error_message is not None
        assert "HTTP 404" in done.error_message
        assert_refunded(services, view.id, JobStatus.FAILED)
        assert_balanced(services, user, 10)


# --- 7. a worker dies mid-job -------------------------------------------------------------------------------


def test_a_killed_worker_s_job_is_reattached_by_request_id_and_charged_once(
    stack: Stack, start_worker: Callable[[StackConfig], WorkerProcess], fake_fal: FakeFal
) -> None:
    config = stack.config(job_stale_seconds=2)
    fake_fal.configure(SCHNELL, latency=1.5)
    with config.services() as services:
        user = new_user(services, credits=10)
        first = start_worker(config)
        request = small_request()
        view = start_generation(services, user, request, "survivor")
        fake_fal.wait_for_submit(1)
        first.wait(lambda: job_row(services, view.id).provider_request_id is not None, timeout=10)
        first.kill()
        request_id = request_id_of(services, view.id)
        second = start_worker(config)

        def stale() -> bool:
            beat = job_row(services, view.id).heartbeat_at
            return beat is not None and utcnow() - beat > timedelta(seconds=2.2)

        wait_for(stale, timeout=10)
        assert not JobStatus(job_row(services, view.id).status).finished
        outcome = reconcile(services)
        assert view.id in outcome.redispatched
        done = wait_finished(services, user, view.id, second)
        assert done.status is JobStatus.SUCCEEDED, done.error_message
        assert_succeeded(services, user, view.id)
        job = job_row(services, view.id)
        assert job.attempts == 2
        assert job.provider_request_id == request_id
        assert [s.request_id for s in sent(fake_fal, request)] == [request_id]  # one submit, ever
        assert ledger_rows(services, job_id=view.id) == [("reserve", -1), ("settle", 0)]
        assert_balanced(services, user, 9)


# --- 8. idempotency -----------------------------------------------------------------------------------------


def test_the_same_idempotency_key_makes_one_job_and_one_reservation(
    stack: Stack, fake_fal: FakeFal, redis_conn: Redis
) -> None:
    config = stack.config()  # no worker listens on this queue: the jobs stay queued
    with config.services() as services:
        user = new_user(services, credits=10)
        first = start_generation(services, user, small_request(), "double-click")
        again = start_generation(services, user, small_request("a different prompt"), "double-click")
        assert again.id == first.id
        assert again.prompt == first.prompt
        barrier = threading.Barrier(6)

        def submit(_: int) -> uuid.UUID:
            barrier.wait(timeout=10)
            return start_generation(services, user, small_request(), "racing-clicks").id

        with ThreadPoolExecutor(6) as pool:
            raced = set(pool.map(submit, range(6)))
        assert len(raced) == 1
        with services.uow() as uow:
            jobs = set(uow.session.scalars(sa.select(GenerationJob.id).where(GenerationJob.owner_id == user)))
            reserves = list(
                uow.session.scalars(
                    sa.select(CreditLedger.job_id).where(
                        CreditLedger.user_id == user, CreditLedger.kind == LedgerKind.RESERVE.value
                    )
                )
            )
        assert jobs == {first.id, *raced}
        assert sorted(map(str, reserves)) == sorted(map(str, jobs))
        queued = Queue(config.queue, connection=redis_conn).job_ids
        assert sorted(queued) == sorted(generation_queue_id(job_id, 1) for job_id in jobs)
        assert_balanced(services, user, 8)
        for job_id in jobs:
            assert not sent(fake_fal, get_job(services, user, job_id).request)
            cancel_job(services, user, job_id)  # leave no job queued forever in the shared database


# --- 9. concurrent submissions against a small balance ------------------------------------------------------


def test_twenty_concurrent_submits_on_five_credits_accept_exactly_five(
    stack: Stack, redis_conn: Redis
) -> None:
    config = stack.config()  # the queue stays unconsumed
    with config.services() as services:
        user = new_user(services, credits=5)
        spec = BY_ENDPOINT[SCHNELL]
        assert price(spec, provider_arguments(spec, small_request())).credits == 1
        barrier = threading.Barrier(20)

        def submit(index: int) -> JobView | InsufficientCredits:
            barrier.wait(timeout=10)
            try:
                return start_generation(services, user, small_request(), f"burst-{index}")
            except InsufficientCredits as refused:
                return refused

        with ThreadPoolExecutor(20) as pool:
            outcomes = list(pool.map(submit, range(20)))
        accepted = [o for o in outcomes if isinstance(o, JobView)]
        refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
        assert len(accepted) == 5
        assert len(refused) == 15
        for error in refused:
            assert "This uses 1 credit and you have 0" in str(error)
            assert (error.needed, error.available) == (1, 0)
        assert_balanced(services, user, 0)
        assert [kind for kind, _ in ledger_rows(services, user)] == ["grant"] + ["reserve"] * 5
        # The fair queue sends a free account's two slots' worth; the other three wait their turn.
        assert len(Queue(config.queue, connection=redis_conn).job_ids) == 2
        waiting = [get_job(services, user, view.id).waiting_turn for view in accepted]
        assert sorted(waiting) == [False, False, True, True, True]
        for view in accepted:
            cancel_job(services, user, view.id)  # leave no job queued forever in the shared database


def test_twenty_clicks_60_ms_apart_on_the_same_form_make_one_job(stack: Stack, redis_conn: Redis) -> None:
    """The issue's clicks: each a rerender after the last, so each with a new submission key."""
    config = stack.config()  # the queue stays unconsumed: the job is still running when the clicks land
    with config.services() as services:
        user = new_user(services, credits=10)
        request = small_request()
        barrier = threading.Barrier(20)

        def click(index: int) -> uuid.UUID:
            barrier.wait(timeout=10)
            time.sleep(0.06 * index)  # the clicks themselves, 60 ms apart
            return start_generation(services, user, request, f"click-{index}").id

        with ThreadPoolExecutor(20) as pool:
            made = set(pool.map(click, range(20)))
        assert len(made) == 1
        assert [kind for kind, _ in ledger_rows(services, user)] == ["grant", "reserve"]
        assert_balanced(services, user, 9)
        again = start_generation(services, user, request, "on-purpose", again=True)
        assert again.id not in made
        assert_balanced(services, user, 8)
        for job_id in (*made, again.id):
            cancel_job(services, user, job_id)


# --- 10. cancelling -----------------------------------------------------------------------------------------


def test_cancelling_a_queued_job_ends_it_at_once_and_the_worker_then_skips_it(
    stack: Stack, fake_fal: FakeFal, redis_conn: Redis
) -> None:
    config = stack.config()  # no worker yet: the job waits in the queue
    with config.services() as services:
        user = new_user(services, credits=10)
        request = small_request()
        view = start_generation(services, user, request, "changed-my-mind")
        assert view.status is JobStatus.QUEUED
        cancelled = cancel_job(services, user, view.id)
        assert cancelled.status is JobStatus.CANCELLED
        assert cancelled.cancel_requested
        assert_refunded(services, view.id, JobStatus.CANCELLED)
        assert_balanced(services, user, 10)
        # A worker that picks the queued job up afterwards leaves it alone.
        queue = Queue(config.queue, connection=redis_conn)
        assert SimpleWorker([queue], connection=redis_conn).work(burst=True)
        assert get_job(services, user, view.id).status is JobStatus.CANCELLED
        assert sent(fake_fal, request) == []
        assert_refunded(services, view.id, JobStatus.CANCELLED)


@pytest.mark.parametrize(
    ("behaviour", "state"),
    [
        pytest.param({"queue_time": 30.0, "queue_positions": [5]}, JobStatus.SUBMITTED, id="in-fal-queue"),
        pytest.param({"never_completes": True, "logs": ["warming up"]}, JobStatus.RUNNING, id="running"),
    ],
)
def test_cancelling_a_submitted_job_cancels_it_at_fal_and_refunds(
    shared: Running, fake_fal: FakeFal, behaviour: dict[str, Any], state: JobStatus
) -> None:
    fake_fal.configure(SCHNELL, **behaviour)
    with shared.config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "cancel-me")
        shared.worker.wait(lambda: get_job(services, user, view.id).status is state, timeout=10)
        asked = cancel_job(services, user, view.id)
        assert asked.cancel_requested
        assert asked.status is state  # the worker ends it at its next poll
        # It polls every 0.05 s: well within 3 s (noticing it only at a 5 s heartbeat would be too late).
        done = wait_finished(services, user, view.id, shared.worker, timeout=3)
        assert done.status is JobStatus.CANCELLED
        job = assert_refunded(services, view.id, JobStatus.CANCELLED)
        assert job.provider_request_id is not None
        assert fake_fal.cancels.count(job.provider_request_id) == 1
        assert_balanced(services, user, 10)


# --- 11. the reconciler -------------------------------------------------------------------------------------


def _submit_directly(fake: FakeFal, endpoint: str, body: dict[str, Any]) -> str:
    """A request at fal that a worker submitted before it died: made here, with the studio's key."""
    with httpx.Client(verify=fake.ssl_context(), timeout=10) as client:
        response = client.post(
            f"{fake.base_url}/{endpoint}", json=body, headers={"Authorization": "Key test-key:test-secret"}
        )
    response.raise_for_status()
    request_id: str = response.json()["request_id"]
    return request_id


def _stuck(services: Services, job_id: uuid.UUID, request_id: str, attempts: int) -> None:
    """The row as a worker that died waiting on fal leaves it: accepted two minutes ago, silent for 90 s
    (these configurations count a job as stale after 60 s), still well within a ten-minute deadline."""
    accepted = utcnow() - timedelta(minutes=2)
    update_job(
        services,
        job_id,
        status=JobStatus.RUNNING.value,
        provider_request_id=request_id,
        attempts=attempts,
        created_at=accepted,
        started_at=accepted,
        submitted_at=accepted,
        heartbeat_at=utcnow() - timedelta(seconds=90),
        deadline_at=accepted + timedelta(minutes=10),
    )


def test_the_reconciler_fails_and_refunds_a_stuck_job_out_of_attempts(
    stack: Stack, fake_fal: FakeFal
) -> None:
    fake_fal.configure(SCHNELL, never_completes=True)
    config = stack.config()  # nothing consumes its queue
    with config.services() as services:
        user = new_user(services, credits=10)
        view = start_generation(services, user, small_request(), "stuck-for-good")
        request_id = _submit_directly(fake_fal, SCHNELL, job_row(services, view.id).params)
        _stuck(services, view.id, request_id, attempts=MAX_ATTEMPTS)
        outcome = reconcile(services)
        assert view.id in outcome.failed
        assert view.id not in outcome.redispatched
        job = assert_refunded(services, view.id, JobStatus.FAILED)
        assert job.error_code == "stuck"
        assert job.attempts == MAX_ATTEMPTS
        assert fake_fal.cancels.count(request_id) == 1
        assert_balanced(services, user, 10)
        assert reconcile(services).failed.count(view.id) == 0  # resolved once, for good


def test_the_reconciler_redispatches_a_stuck_job_which_reattaches_and_succeeds(
    stack: Stack, shared: Running, fake_fal: FakeFal
) -> None:
    fake_fal.configure(SCHNELL, latency=0.2)
    accepted_on = stack.config()  # the first attempt's queue: nobody consumes it
    with accepted_on.services() as services, shared.config.services() as reconciling:
        user = new_user(services, credits=10)
        request = small_request()
        view = start_generation(services, user, request, "stuck-once")
        request_id = _submit_directly(fake_fal, SCHNELL, job_row(services, view.id).params)
        _stuck(services, view.id, request_id, attempts=1)
        outcome = reconcile(reconciling)  # dispatches to the shared worker's queue
        assert view.id in outcome.redispatched
        assert job_row(services, view.id).attempts == 2
        done = wait_finished(services, user, view.id, shared.worker)
        assert done.status is JobStatus.SUCCEEDED, done.error_message
        assert_succeeded(reconciling, user, view.id)  # the images are in the shared worker's bucket
        assert job_row(services, view.id).provider_request_id == request_id
        assert [s.request_id for s in sent(fake_fal, request)] == [request_id]  # re-attached, no new submit
        assert_balanced(services, user, 9)


# --- a fallback model ------------------------------------------------------------------------------------

DEV = "fal-ai/flux/dev"


def test_a_job_the_provider_fails_reruns_once_on_its_fallback_model(
    shared: Running, fake_fal: FakeFal
) -> None:
    fake_fal.configure(SCHNELL, latency=0.1, garbage_result=True)  # schnell answers with no images
    fake_fal.configure(DEV, latency=0.1)
    with shared.config.services() as services:
        user = new_user(services, credits=20)
        view = start_generation(services, user, small_request(), "falls-back", fallback_model=DEV)
        failed = wait_finished(services, user, view.id, shared.worker)
        assert failed.status is JobStatus.FAILED
        assert assert_refunded(services, view.id, JobStatus.FAILED).error_code == "bad_output"

        def reruns() -> list[uuid.UUID]:
            with services.uow() as uow:
                return list(
                    uow.session.scalars(
                        sa.select(GenerationJob.id).where(GenerationJob.fallback_of_id == view.id)
                    )
                )

        wait_for(lambda: bool(reruns()), timeout=20)
        (rerun,) = reruns()
        done = wait_finished(services, user, rerun, shared.worker)
        assert done.status is JobStatus.SUCCEEDED
        assert done.model_endpoint == DEV
        assert done.prompt == failed.prompt
        assert done.request.params.get("seed") == failed.request.params.get("seed")  # the same request
        spec = BY_ENDPOINT[DEV]
        cost = price(spec, provider_arguments(spec, done.request)).credits
        assert done.credits_settled == cost  # priced at the fallback's cost
        assert_balanced(services, user, 20 - cost)
        (image,) = done.images
        assert details.image_detail(services, user, image.id).fallback_for == SCHNELL  # in its lineage
        assert submissions.fall_back(services, view.id) is None  # once
        assert reruns() == [rerun]
