"""The studio's real stack for pipeline tests: one set of settings for the test process and its workers.

The test process calls the services (`installed(config.settings())`); `python worker.py` subprocesses run
the jobs with the same values as environment variables, so both sides agree on the database, bucket, queue
and every timeout. Each configuration gets its own queue name (a worker only ever takes the jobs of its
own configuration, however many run at once) and its own bucket.

A worker is stopped by its whole session: RQ forks each job into a work-horse that leaves the worker's
process group (`os.setpgrp()`), so killing the group alone would leave the horse running the job.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from redis import Redis
from rq import Queue, Worker

from studio.adapters.db.models import GenerationJob, Image, UsageLog
from studio.adapters.storage import S3Storage
from studio.domain.credits import LedgerKind
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation.outputs import THUMBNAIL_SIDE
from studio.services.generation.views import JobView, get_job
from studio.settings import Settings
from tests.support.builders import ledger_rows
from tests.support.env import ROOT, TEST_SECRET, wait_for
from tests.support.fal_server import FakeFal, Submitted
from tests.support.services import installed

WORKER_SCRIPT = ROOT / "worker.py"
SCHNELL = "fal-ai/flux/schnell"  # 1 credit for a 512×512 image
SMALL = {"image_size": "square", "num_images": 1}
S3_KEY = "testing"


@dataclass(frozen=True)
class StackConfig:
    """Settings values (field name -> text) shared by the test process and its worker subprocesses."""

    values: Mapping[str, str]
    fal_env: Mapping[str, str]

    @property
    def queue(self) -> str:
        return self.values["worker_queues"]

    @property
    def bucket(self) -> str:
        return self.values["s3_bucket"]

    def settings(self) -> Settings:
        values: dict[str, Any] = dict(self.values)  # text, as the environment gives it to the worker
        return Settings(_env_file=None, **values)

    def env(self) -> dict[str, str]:
        """The worker's whole environment: nothing of the test process leaks in."""
        base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT)}
        return base | {name.upper(): value for name, value in self.values.items()} | dict(self.fal_env)

    @contextmanager
    def services(self) -> Iterator[Services]:
        """This configuration's services in the test process, started as the app starts them."""
        with installed(self.settings()) as services:
            yield services


class WorkerProcess:
    """`python worker.py` in its own session, its output in a log file."""

    def __init__(self, config: StackConfig, workdir: Path, *args: str) -> None:
        self.config = config
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"worker-{uuid.uuid4().hex[:8]}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), *args],
            env=config.env(),
            cwd=workdir,  # no .env here: the environment is all the worker reads
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, last: int = 6000) -> str:
        return self.log_path.read_bytes()[-last:].decode(errors="replace")

    def wait_ready(self, redis: Redis, timeout: float = 30.0, workers: int = 1) -> None:
        """Until RQ lists this worker (or `workers` processes of its pool) on its queue (it has migrated
        and is listening); fail if it exited."""
        queue = Queue(self.config.queue, connection=redis)

        def listening() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            mine = set(self.session_pids())
            return sum(worker.pid in mine for worker in Worker.all(connection=redis, queue=queue)) >= workers

        self.wait(listening, timeout)

    def wait(self, condition: Callable[[], bool], timeout: float) -> None:
        """conftest.wait_for, with this worker's log in the failure message."""
        try:
            wait_for(condition, timeout=timeout)
        except pytest.fail.Exception as failure:
            pytest.fail(f"{failure.msg}\n--- worker log ---\n{self.output()}")

    def session_pids(self) -> list[int]:
        """Live processes of the worker's session: the worker, its scheduler and any work-horse."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _ppid, _group, session = stat.rsplit(")", 1)[1].split()[:4]
            if int(session) == self.pid and state != "Z":
                found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """SIGKILL every process of the session at once, as a crashed host would."""
        for pid in self.session_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for(lambda: not self.session_pids(), timeout=10)
        self._log.close()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the worker's group (a warm shutdown), then SIGKILL whatever is left after `timeout`."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()


@dataclass(frozen=True)
class Running:
    """A configuration with a worker listening on its queue."""

    config: StackConfig
    worker: WorkerProcess


class Stack:
    """The real services of one test module: PostgreSQL, Redis, moto S3 and the fake fal over TLS."""

    def __init__(
        self, postgres_url: str, redis_url: str, s3_endpoint: str, fal: FakeFal, workdir: Path
    ) -> None:
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self.s3_endpoint = s3_endpoint
        self.fal = fal
        self.workdir = workdir

    def config(self, **overrides: float | str) -> StackConfig:
        """Settings of a new configuration: its own queue and bucket, the given values on top."""
        bucket = f"pipeline-{uuid.uuid4().hex[:16]}"
        self.storage(bucket).create_bucket()
        values = {
            "database_url": self.postgres_url,
            "redis_url": self.redis_url,
            "worker_queues": f"pipeline-{uuid.uuid4().hex[:12]}",
            "s3_bucket": bucket,
            "s3_endpoint_url": self.s3_endpoint,
            "s3_access_key_id": S3_KEY,
            "s3_secret_access_key": S3_KEY,
            "secret_key": TEST_SECRET,
            "fal_key": "test-key:test-secret",
            "public_url": "http://localhost:8501",
            "provider_poll_seconds": "0.05",
            "generation_timeout_seconds": "60",
            "job_stale_seconds": "60",
            # Fixed, not the workers counted in Redis: a test's submissions go out whatever runs already.
            "generation_slots": "8",
            # The reconciler runs when a test calls it (a scheduled pass falls due only on the hour).
            "reconcile_interval_seconds": "3600",
            "log_level": "INFO",
        } | {name: str(value) for name, value in overrides.items()}
        fal_env = {name: value for name, value in self.fal.env().items() if name != "FAL_KEY"}
        return StackConfig(values, fal_env)

    def storage(self, bucket: str) -> S3Storage:
        return S3Storage(
            bucket, endpoint_url=self.s3_endpoint, access_key_id=S3_KEY, secret_access_key=S3_KEY
        )


def small_request(prompt: str | None = None) -> Request:
    """A 1-credit request; its prompt is unique, so the fake's records of it are this test's own."""
    return Request(SCHNELL, prompt or f"a lighthouse at dusk, {uuid.uuid4().hex[:12]}", params=dict(SMALL))


def sent(fake: FakeFal, request: Request) -> list[Submitted]:
    """The submit POSTs (rejected ones included) the fake received for this request's prompt."""
    return [submit for submit in fake.submits if submit.body.get("prompt") == request.prompt]


# --- accounts and what a job left behind --------------------------------------------------------------------


def assert_balanced(services: Services, user_id: uuid.UUID, expected: int) -> None:
    """The balance is `expected` and equals the sum of the user's ledger."""
    with services.uow() as uow:
        assert ledger.balance(uow.session, user_id) == expected
        assert ledger.ledger_sum(uow.session, user_id) == expected


def job_row(services: Services, job_id: uuid.UUID) -> GenerationJob:
    with services.uow() as uow:
        job = uow.session.get(GenerationJob, job_id)
        assert job is not None
        uow.session.expunge(job)  # leaving the unit of work rolls back, which would expire it
        return job


def update_job(services: Services, job_id: uuid.UUID, **values: Any) -> None:
    with services.uow() as uow:
        uow.session.execute(sa.update(GenerationJob).where(GenerationJob.id == job_id).values(**values))
        uow.commit()


def wait_finished(
    services: Services,
    user_id: uuid.UUID,
    job_id: uuid.UUID,
    worker: WorkerProcess | None = None,
    timeout: float = 20.0,
) -> JobView:
    """Poll the job as a page does until it ends."""

    def finished() -> bool:
        return get_job(services, user_id, job_id).finished

    if worker is None:
        wait_for(finished, timeout=timeout)
    else:
        worker.wait(finished, timeout)
    return get_job(services, user_id, job_id)


def _decode(data: bytes) -> tuple[str, tuple[int, int]]:
    with PILImage.open(io.BytesIO(data)) as image:
        image.load()
        return str(image.format), image.size


def assert_succeeded(services: Services, user_id: uuid.UUID, job_id: uuid.UUID) -> list[Image]:
    """Everything a successful job must leave: its images in the bucket (original and a WebP thumbnail),
    image rows with the full metadata, one usage row, the credits settled once. Returns the image rows."""
    view = get_job(services, user_id, job_id)
    assert view.status is JobStatus.SUCCEEDED, view.error_message
    assert view.progress == 1.0
    assert view.queue_position is None
    with services.uow() as uow:
        job = uow.session.get(GenerationJob, job_id)
        assert job is not None
        images = list(uow.session.scalars(sa.select(Image).where(Image.job_id == job_id)))
        usage = list(uow.session.scalars(sa.select(UsageLog).where(UsageLog.job_id == job_id)))
        uow.session.expunge_all()
    assert job.provider_request_id
    assert job.finished_at is not None
    assert len(images) == job.num_images == int(job.params.get("num_images", 1))
    for image in images:
        assert image.owner_id == user_id
        assert image.params == job.params
        assert image.model_endpoint == job.model_endpoint
        assert image.prompt == job.prompt
        assert image.provider_request_id == job.provider_request_id
        assert image.operation == job.operation
        assert image.parent_image_id == job.parent_image_id
        if "seed" in job.params:  # a background removal has none
            assert image.seed == job.params["seed"]
        fmt, size = _decode(services.storage.get(image.storage_key))
        assert size == (image.width, image.height)
        assert image.content_type == PILImage.MIME[fmt]
        assert image.byte_size == len(services.storage.get(image.storage_key))
        assert image.thumb_key is not None
        thumb_format, thumb_size = _decode(services.storage.get(image.thumb_key))
        assert thumb_format == "WEBP"
        assert max(thumb_size) <= THUMBNAIL_SIDE
        assert max(thumb_size) == min(THUMBNAIL_SIDE, max(size))
    assert job.credits_settled == job.credits_reserved == sum(image.credits for image in images)
    assert view.credits_settled == job.credits_settled
    assert [(row.outcome, row.images, row.credits) for row in usage] == [
        (JobStatus.SUCCEEDED.value, len(images), job.credits_settled)
    ]
    assert [kind for kind, _ in ledger_rows(services, job_id=job_id)] == [
        LedgerKind.RESERVE.value,
        LedgerKind.SETTLE.value,
    ]
    return images


def assert_refunded(services: Services, job_id: uuid.UUID, status: JobStatus) -> GenerationJob:
    """A job that ended without images: its whole reservation given back, exactly once."""
    job = job_row(services, job_id)
    assert job.status == status.value, job.error_message
    assert job.credits_settled == 0
    assert ledger_rows(services, job_id=job_id) == [
        (LedgerKind.RESERVE.value, -job.credits_reserved),
        (LedgerKind.REFUND.value, job.credits_reserved),
    ]
    with services.uow() as uow:
        images = uow.session.scalar(sa.select(sa.func.count()).where(Image.job_id == job_id))
        outcomes = list(uow.session.scalars(sa.select(UsageLog.outcome).where(UsageLog.job_id == job_id)))
    assert images == 0
    assert outcomes == [status.value]
    return job
