"""The sign-in attempt limiter: every behaviour in memory and on a real Redis, with a fake clock."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from redis import Redis

from studio.adapters.attempts import AttemptPolicy, Attempts, MemoryAttempts, RedisAttempts
from studio.errors import ConfigError

POLICY = AttemptPolicy(max_failures=10, lockout_seconds=600.0, window_seconds=3600.0, free_failures=3)


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeAttempts = Callable[[AttemptPolicy], Attempts]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def make_attempts(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[MakeAttempts]:
    """Builds the limiter under test; a Redis one gets a prefix of its own, deleted afterwards."""
    if request.param == "memory":
        yield lambda policy: MemoryAttempts(policy, clock=clock)
        return
    connection: Redis = request.getfixturevalue("redis_conn")
    prefix = f"test:attempts:{uuid.uuid4().hex}:"
    yield lambda policy: RedisAttempts(connection, policy, prefix=prefix, clock=clock)
    for name in connection.scan_iter(match=prefix + "*"):
        connection.delete(name)


def fail_times(attempts: Attempts, key: str, times: int) -> list[float]:
    return [attempts.fail(key) for _ in range(times)]


def test_a_key_without_failures_may_try_now(make_attempts: MakeAttempts) -> None:
    attempts = make_attempts(POLICY)

    assert attempts.retry_after("account:alice") == 0.0


def test_backoff_doubles_after_the_free_failures_and_is_capped(make_attempts: MakeAttempts) -> None:
    attempts = make_attempts(POLICY)

    waits = fail_times(attempts, "account:alice", 9)

    assert waits == [0.0, 0.0, 0.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert attempts.retry_after("account:alice") == 30.0


def test_backoff_never_waits_beyond_the_lockout(make_attempts: MakeAttempts) -> None:
    attempts = make_attempts(AttemptPolicy(max_failures=10, lockout_seconds=5.0, window_seconds=3600.0))

    assert fail_times(attempts, "account:alice", 6) == [0.0, 0.0, 0.0, 2.0, 4.0, 5.0]


def test_backoff_counts_down_with_the_clock(make_attempts: MakeAttempts, clock: FakeClock) -> None:
    attempts = make_attempts(POLICY)
    fail_times(attempts, "account:alice", 4)

    clock.advance(1.5)
    assert attempts.retry_after("account:alice") == pytest.approx(0.5)
    clock.advance(0.5)
    assert attempts.retry_after("account:alice") == 0.0


def test_max_failures_lock_the_key_for_the_lockout(make_attempts: MakeAttempts, clock: FakeClock) -> None:
    attempts = make_attempts(POLICY)

    assert fail_times(attempts, "account:alice", 10)[-1] == 600.0
    clock.advance(100.0)
    assert attempts.retry_after("account:alice") == pytest.approx(500.0)


def test_the_lock_is_released_after_the_lockout(make_attempts: MakeAttempts, clock: FakeClock) -> None:
    attempts = make_attempts(POLICY)
    fail_times(attempts, "account:alice", 10)

    clock.advance(600.0)

    assert attempts.retry_after("account:alice") == 0.0
    # Still within the window, so the count is kept: the next failure locks the key again.
    assert attempts.fail("account:alice") == 600.0


def test_a_failure_while_locked_restarts_the_lockout_without_stacking(
    make_attempts: MakeAttempts, clock: FakeClock
) -> None:
    attempts = make_attempts(POLICY)
    fail_times(attempts, "account:alice", 10)
    clock.advance(100.0)

    assert attempts.fail("account:alice") == 600.0
    clock.advance(599.0)
    assert attempts.retry_after("account:alice") == pytest.approx(1.0)


def test_failures_are_forgotten_a_window_after_the_last_one(
    make_attempts: MakeAttempts, clock: FakeClock
) -> None:
    attempts = make_attempts(AttemptPolicy(max_failures=10, lockout_seconds=600.0, window_seconds=60.0))
    for _ in range(3):  # 50 s apart: each failure is within the window of the one before
        attempts.fail("account:alice")
        clock.advance(50.0)
    assert attempts.fail("account:alice") == 2.0

    clock.advance(60.0)

    assert attempts.retry_after("account:alice") == 0.0
    assert fail_times(attempts, "account:alice", 4) == [0.0, 0.0, 0.0, 2.0]


def test_a_lock_outlasts_a_shorter_window(make_attempts: MakeAttempts, clock: FakeClock) -> None:
    attempts = make_attempts(AttemptPolicy(max_failures=3, lockout_seconds=600.0, window_seconds=60.0))
    fail_times(attempts, "account:alice", 3)

    clock.advance(100.0)

    assert attempts.retry_after("account:alice") == pytest.approx(500.0)
    assert attempts.fail("account:alice") == 600.0


def test_clear_forgets_the_key(make_attempts: MakeAttempts) -> None:
    attempts = make_attempts(POLICY)
    fail_times(attempts, "account:alice", 10)

    attempts.clear("account:alice")

    assert attempts.retry_after("account:alice") == 0.0
    assert fail_times(attempts, "account:alice", 4) == [0.0, 0.0, 0.0, 2.0]
    attempts.clear("account:nobody")  # clearing an unknown key is fine


def test_keys_are_counted_apart(make_attempts: MakeAttempts) -> None:
    attempts = make_attempts(POLICY)
    odd_key = "client:203.0.113.9 *{}\n\x00é"

    fail_times(attempts, "account:alice", 10)
    fail_times(attempts, odd_key, 4)
    attempts.clear("account:bob")

    assert attempts.retry_after("account:alice") == 600.0
    assert attempts.retry_after(odd_key) == 2.0
    assert attempts.retry_after("account:bob") == 0.0
    assert attempts.retry_after("client:203.0.113.10") == 0.0


@pytest.mark.parametrize(("max_failures", "expected"), [(50, 600.0), (51, 30.0)])
def test_concurrent_failures_are_each_counted_once(
    make_attempts: MakeAttempts, max_failures: int, expected: float
) -> None:
    # 50 failures lock a key that allows 50 (a lost update would leave it backing off for 30 s) and only
    # back off one that allows 51 (a double count would lock it).
    attempts = make_attempts(AttemptPolicy(max_failures, lockout_seconds=600.0, window_seconds=3600.0))
    start = threading.Barrier(50)

    def fail() -> float:
        start.wait(timeout=5)
        return attempts.fail("account:alice")

    with ThreadPoolExecutor(max_workers=50) as pool:
        waits = list(pool.map(lambda _: fail(), range(50)))

    assert attempts.retry_after("account:alice") == expected
    assert waits.count(600.0) == (1 if max_failures == 50 else 0)


def test_redis_keys_are_hashed_and_expire(redis_conn: Redis, clock: FakeClock) -> None:
    prefix = f"test:attempts:{uuid.uuid4().hex}:"
    attempts = RedisAttempts(redis_conn, POLICY, prefix=prefix, clock=clock)

    attempts.fail("account:alice")

    name = prefix + hashlib.sha256(b"account:alice").hexdigest()
    assert [key.decode() for key in redis_conn.scan_iter(match=prefix + "*")] == [name]
    assert 3_590_000 < redis_conn.pttl(name) <= 3_600_000
    redis_conn.delete(name)


def test_memory_prunes_keys_nobody_needs_any_more(clock: FakeClock) -> None:
    policy = AttemptPolicy(max_failures=3, lockout_seconds=600.0, window_seconds=60.0)
    attempts = MemoryAttempts(policy, clock)
    fail_times(attempts, "account:alice", 3)
    attempts.fail("account:bob")

    clock.advance(600.0)
    attempts.fail("account:carol")

    assert list(attempts._records) == ["account:carol"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: replace(POLICY, max_failures=0),
        lambda: replace(POLICY, free_failures=-1),
        lambda: replace(POLICY, lockout_seconds=0.0),
        lambda: replace(POLICY, window_seconds=-1.0),
    ],
    ids=["no-failures-allowed", "negative-free-failures", "no-lockout", "negative-window"],
)
def test_a_policy_that_cannot_work_is_refused(build: Callable[[], AttemptPolicy]) -> None:
    with pytest.raises(ConfigError):
        build()
