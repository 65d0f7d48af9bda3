"""Crash recovery on the real stack: `python worker.py` processes SIGKILLed as a whole (the worker, RQ's
scheduler child and the duty threads at once), then started again, as a crashed host or container would be.

Every job must be terminal or running again within JOB_STALE_SECONDS + RECONCILE_INTERVAL_SECONDS + 10 s of
the last crash, charged once, with the ledger equal to the balance.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, Worker

from studio.adapters.db.models import GenerationJob
from studio.domain.generation import JobStatus
from studio.services.context import Services
from studio.services.generation.submissions import start_generation
from tests.support.builders import ledger_rows, new_user
from tests.support.env import ROOT
from tests.support.fal_server import FakeFal
from tests.support.stack import (
    SCHNELL,
    Stack,
    StackConfig,
    WorkerProcess,
    assert_balanced,
    assert_succeeded,
    job_row,
    sent,
    small_request,
)

STALE, INTERVAL = 3, 2
BOUND = STALE + INTERVAL + 10  # seconds, from the last crash


@pytest.fixture
def workers(stack: Stack, redis_conn: Redis) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `python worker.py [args]` on a configuration; every one still running is stopped at the end."""
    started: list[WorkerProcess] = []

    def start(config: StackConfig, *args: str, count: int = 1) -> WorkerProcess:
        worker = WorkerProcess(config, stack.workdir, *args)
        started.append(worker)
        worker.wait_ready(redis_conn, workers=count)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.stop()


def unfinished(services: Services, job_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    with services.uow() as uow:
        rows = uow.session.execute(
            sa.select(GenerationJob.id, GenerationJob.status).where(GenerationJob.id.in_(job_ids))
        ).all()
    return [row.id for row in rows if not JobStatus(row.status).finished]


def test_repeated_crashes_of_a_worker_pool_never_stop_recovery(
    stack: Stack, workers: Callable[..., WorkerProcess], fake_fal: FakeFal, redis_conn: Redis
) -> None:
    """The issue's run, smaller: a pool of 2 SIGKILLed 6 times, 2-4 s after each start. Before the fix a
    restarted worker found RQ's scheduler lock still held by the killed scheduler (61 s) and did not retry
    it before its ten-minute maintenance: once the reconciler passes already queued had run, the next ones
    (scheduled, so waiting for a scheduler) never did, and the jobs of the later crashes stayed stuck."""
    config = stack.config(job_stale_seconds=STALE, reconcile_interval_seconds=INTERVAL)
    fake_fal.configure(SCHNELL, latency=1.0)
    chance = random.Random(16)
    with config.services() as services:
        user = new_user(services, credits=30)
        job_ids = [start_generation(services, user, small_request(), f"crash-{n}").id for n in range(16)]
        for _ in range(6):
            worker = workers(config, "--workers", "2", count=2)
            time.sleep(chance.uniform(2.0, 4.0))  # the crash pattern itself, not a wait for a condition
            worker.kill()
        last_crash = time.monotonic()
        survivor = workers(config, "--workers", "2", count=2)
        survivor.wait(lambda: not unfinished(services, job_ids), timeout=BOUND + 16 * 1.0 / 2)
        recovered_in = time.monotonic() - last_crash
        for job_id in job_ids:
            assert_succeeded(services, user, job_id)
        assert_balanced(services, user, 30 - 16)
        print(f"16 jobs, 6 crashes: every job succeeded {recovered_in:.1f} s after the last crash")


def test_a_crash_while_fal_holds_the_submit_is_recovered_in_seconds_and_charged_once(
    stack: Stack, workers: Callable[..., WorkerProcess], fake_fal: FakeFal
) -> None:
    """fal accepted the request but held its answer for 6 s, and the worker died meanwhile: the job row is
    `queued` with a claim and no request id. Before the fix it waited for its deadline, then failed."""
    config = stack.config(job_stale_seconds=STALE, reconcile_interval_seconds=INTERVAL)
    fake_fal.configure(SCHNELL, latency=0.5, submit_delay=6.0)
    with config.services() as services:
        user = new_user(services, credits=10)
        request = small_request()
        first = workers(config)
        before = len(fake_fal.submits)
        view = start_generation(services, user, request, "held-submit")
        fake_fal.wait_for_submit(before + 1)
        claimed = job_row(services, view.id)
        assert claimed.status == JobStatus.QUEUED.value
        assert claimed.provider_request_id is None
        first.kill()
        crashed = time.monotonic()
        fake_fal.configure(SCHNELL, latency=0.5)  # the next submit is answered at once
        second = workers(config)
        second.wait(lambda: not unfinished(services, [view.id]), timeout=BOUND)
        assert time.monotonic() - crashed <= BOUND
        assert_succeeded(services, user, view.id)
        assert ledger_rows(services, job_id=view.id) == [("reserve", -1), ("settle", 0)]
        assert_balanced(services, user, 9)
        assert len([s for s in sent(fake_fal, request) if s.accepted]) == 2  # the lost one and the new one
        job = job_row(services, view.id)
        assert job.attempts == 2
        assert job.submitting_at is not None  # the claim marked it before the request left


def test_a_live_worker_held_by_a_slow_submit_is_never_taken_for_a_dead_one(
    stack: Stack, workers: Callable[..., WorkerProcess], fake_fal: FakeFal
) -> None:
    """fal holds the submit for twice JOB_STALE_SECONDS: the worker's heartbeat goes on meanwhile, so the
    reconciler leaves the job alone and fal sees one request."""
    config = stack.config(job_stale_seconds=STALE, reconcile_interval_seconds=1)
    fake_fal.configure(SCHNELL, latency=0.2, submit_delay=2 * STALE)
    with config.services() as services:
        user = new_user(services, credits=10)
        request = small_request()
        worker = workers(config)
        view = start_generation(services, user, request, "slow-submit")
        worker.wait(lambda: not unfinished(services, [view.id]), timeout=4 * STALE + 10)
        assert_succeeded(services, user, view.id)
        assert len(sent(fake_fal, request)) == 1
        assert job_row(services, view.id).attempts == 1


def test_a_dead_worker_s_rq_records_are_cleaned_up_at_once(
    stack: Stack, workers: Callable[..., WorkerProcess], fake_fal: FakeFal, redis_conn: Redis
) -> None:
    """RQ leaves a killed worker registered, and its job in the started registry, for minutes. The next
    worker's duties clean both up within seconds, and take the job over."""
    config = stack.config(job_stale_seconds=60, reconcile_interval_seconds=3600)  # no reconciler help
    fake_fal.configure(SCHNELL, latency=8.0)  # still running at fal while the worker is dead
    queue = Queue(config.queue, connection=redis_conn)
    with config.services() as services:
        user = new_user(services, credits=10)
        first = workers(config)
        view = start_generation(services, user, small_request(), "registries")
        first.wait(lambda: job_row(services, view.id).provider_request_id is not None, timeout=10)
        [dead] = [w.name for w in Worker.all(connection=redis_conn, queue=queue) if w.pid == first.pid]
        assert queue.started_job_registry.get_job_ids(cleanup=False)
        first.kill()
        second = workers(config)

        def cleaned() -> bool:
            names = {w.name for w in Worker.all(connection=redis_conn, queue=queue)}
            running = queue.started_job_registry.get_job_ids(cleanup=False)
            return dead not in names and not [job for job in running if job.startswith(f"gen-{view.id}-1")]

        second.wait(cleaned, timeout=15)
        second.wait(lambda: not unfinished(services, [view.id]), timeout=15)
        assert_succeeded(services, user, view.id)
        assert job_row(services, view.id).attempts == 2
        assert_balanced(services, user, 9)
        assert f"gen-{view.id}-1" in queue.failed_job_registry.get_job_ids()  # RQ's own abandoned path


# --- embedded mode: the app runs the jobs, and is itself what crashes -------------------------------------


def test_the_embedded_runner_killed_mid_jobs_resumes_every_job_when_the_app_starts_again(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    """Embedded mode with the fake fal: the app process SIGKILLed while its job threads run, then started
    on the same data directory. Every job ends, succeeded and charged once."""
    fake_fal.configure(SCHNELL, latency=1.5)
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
        "JOB_STALE_SECONDS": str(STALE), "RECONCILE_INTERVAL_SECONDS": str(INTERVAL), "LOG_LEVEL": "INFO",
    } | fake_fal.env()  # fmt: skip
    command = [sys.executable, "-m", "tests.support.embedded_app", str(tmp_path / "data")]
    app = subprocess.Popen(
        [*command, "submit", "6"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "ready"  # a job is running at fal
    finally:
        app.kill()  # SIGKILL: the threads, the pending files' owner, everything at once
        app.wait(10)
    crashed = time.monotonic()
    try:
        again = subprocess.run(
            [*command, "resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=BOUND + 20
        )
    except subprocess.TimeoutExpired as late:
        (tmp_path / "resume.log").write_text(str(late.stderr))
        pytest.fail(f"jobs still unfinished {late.timeout} s after the restart:\n{str(late.stderr)[-4000:]}")
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["statuses"] == ["succeeded"] * 6
    assert summary["balance"] == summary["ledger_sum"] == 100 - 6
    assert summary["ledger"] == sorted(
        f"{job}:{kind}" for job in summary["jobs"] for kind in ("reserve", "settle")
    )
    assert time.monotonic() - crashed <= BOUND + 6 * 1.5
