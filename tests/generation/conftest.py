"""Fixtures of the generation tests on the real stack (test_pipeline, test_crash_recovery)."""

from __future__ import annotations

import pytest

from tests.support.fal_server import FakeFal
from tests.support.stack import Stack


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
