"""Fixtures of the generation tests on the real stack (test_pipeline, test_crash_recovery)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from tests.support.fal_server import FakeFal
from tests.support.stack import Running, Stack, WorkerProcess


@pytest.fixture(scope="module")
def stack(
    postgres_url: str,
    redis_url: str,
    s3_endpoint: str,
    _fal_server: FakeFal,
    tmp_path_factory: pytest.TempPathFactory,
) -> Stack:
    """PostgreSQL, Redis, moto S3 and the fake fal for one test module, with a work folder of its own."""
    return Stack(postgres_url, redis_url, s3_endpoint, _fal_server, tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="module")
def shared(stack: Stack) -> Iterator[Running]:
    """One worker for every test of a module that neither kills it nor needs other settings."""
    config = stack.config()
    redis = Redis.from_url(stack.redis_url)
    worker = WorkerProcess(config, stack.workdir)
    try:
        worker.wait_ready(redis)
        yield Running(config, worker)
    finally:
        worker.stop()
        redis.close()
