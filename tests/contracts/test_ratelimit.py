"""The rate limiter on both its storages: this process's memory (embedded mode) and the running Redis
(production, shared by every process). Keys are each test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from studio.adapters.ratelimit import LimitsRateLimiter, storage_uri


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[LimitsRateLimiter]:
    if request.param == "memory":
        yield LimitsRateLimiter(storage_uri(None))
    else:
        request.getfixturevalue("redis_conn")
        yield LimitsRateLimiter(storage_uri(request.getfixturevalue("redis_url")))


def test_hits_within_the_rules_pass_and_the_next_says_how_long_to_wait(limiter: LimitsRateLimiter) -> None:
    key = uuid.uuid4().hex
    assert [limiter.hit("3/minute", "generations", key) for _ in range(3)] == [None, None, None]
    wait = limiter.hit("3/minute", "generations", key)
    assert wait is not None
    assert 1 <= wait <= 60
    assert limiter.hit("3/minute", "generations", uuid.uuid4().hex) is None  # another key: its own window
    assert limiter.hit("3/minute", "signups", key) is None  # another kind: its own window


def test_every_rule_counts_and_a_refused_hit_takes_nothing(limiter: LimitsRateLimiter) -> None:
    key = uuid.uuid4().hex
    rules = "5/minute;2/second"
    assert limiter.hit(rules, "views", key) is None
    assert limiter.hit(rules, "views", key) is None
    assert limiter.hit(rules, "views", key) is not None  # the per-second rule
    assert limiter.hit(rules, "views", key) is not None
    assert limiter.hit("5/minute", "views", key) is None  # the refused two were not counted: 3 of 5


def test_processes_share_the_redis_windows(redis_url: str, redis_conn: Redis) -> None:
    one, other = LimitsRateLimiter(redis_url), LimitsRateLimiter(redis_url)
    key = uuid.uuid4().hex
    assert one.hit("2/minute", "generations", key) is None
    assert other.hit("2/minute", "generations", key) is None
    assert one.hit("2/minute", "generations", key) is not None
    assert any(b"studio" in name for name in redis_conn.keys("*"))
