"""Sign-in attempts: failures counted per key ("account:alice", "client:203.0.113.9"), so guessing passwords
meets exponential backoff and then a lockout; in memory for embedded mode, in Redis for production.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis import Redis

from studio.errors import ConfigError

BACKOFF_CAP_SECONDS = 30.0
_MAX_EXPONENT = 10  # 2 ** 10 is already past the cap; stops huge counts from overflowing


@dataclass(frozen=True)
class AttemptPolicy:
    """How many failures a key may have, and how long it waits after them."""

    max_failures: int  # the key is locked after this many failures within the window
    lockout_seconds: float  # how long a lock lasts, from the failure that caused it
    window_seconds: float  # failures are forgotten this long after the last one
    free_failures: int = 3  # failures before backoff starts: then 2 ** (n - free) s, capped, until the lock

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.free_failures < 0:
            raise ConfigError("attempt policy: max_failures must be ≥ 1 and free_failures ≥ 0")
        if not (self.lockout_seconds > 0 and self.window_seconds > 0):
            raise ConfigError("attempt policy: lockout_seconds and window_seconds must be positive")

    def wait(self, failures: int) -> float:
        """Seconds a key waits after its `failures`-th failure (0.0 while failures are free)."""
        if failures >= self.max_failures:
            return self.lockout_seconds
        if failures <= self.free_failures:
            return 0.0
        backoff = 2.0 ** min(failures - self.free_failures, _MAX_EXPONENT)
        return min(backoff, BACKOFF_CAP_SECONDS, self.lockout_seconds)

    def keep_seconds(self, failures: int) -> float:
        """How long after its last failure a key's count still matters (the window, or a longer wait)."""
        return max(self.window_seconds, self.wait(failures))

    def retry_after(self, failures: int, last_failure: float, now: float) -> float:
        return max(0.0, last_failure + self.wait(failures) - now)


class Attempts(Protocol):
    """Failed sign-in attempts per key; callers check `retry_after` before checking a password."""

    policy: AttemptPolicy

    def retry_after(self, key: str) -> float: ...

    def fail(self, key: str) -> float: ...

    def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class _Record:
    failures: int
    last_failure: float


class MemoryAttempts:
    """Attempts in this process's memory (embedded mode), behind one lock."""

    def __init__(self, policy: AttemptPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        # Ordered by last failure (each failure moves its key to the end), so pruning stops at the first
        # record that may still matter instead of scanning every key.
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            self._prune(now)
            record = self._records.get(key)
            if record is None:
                return 0.0
            return self.policy.retry_after(record.failures, record.last_failure, now)

    def fail(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            self._prune(now)
            record = self._records.pop(key, None)
            if record is None or now >= record.last_failure + self.policy.keep_seconds(record.failures):
                record = _Record(0, now)
            record = _Record(record.failures + 1, max(record.last_failure, now))
            self._records[key] = record
            return self.policy.retry_after(record.failures, record.last_failure, now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        longest = max(self.policy.window_seconds, self.policy.lockout_seconds)
        while self._records:
            key, record = next(iter(self._records.items()))
            if now < record.last_failure + longest:
                return
            del self._records[key]


# KEYS[1]: the key's hash. ARGV: now, window, lockout, max_failures, free_failures, backoff cap, max exponent.
# `wait` repeats AttemptPolicy.wait: the script must decide inside Redis whether the old count still matters.
# `last` is stored as the caller's own string so no precision is lost to Lua's number formatting.
_FAIL_SCRIPT = """
local now_text = ARGV[1]
local now = tonumber(now_text)
local window, lockout = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_failures, free_failures = tonumber(ARGV[4]), tonumber(ARGV[5])
local cap, max_exponent = tonumber(ARGV[6]), tonumber(ARGV[7])

local function wait(n)
    if n >= max_failures then return lockout end
    if n <= free_failures then return 0 end
    return math.min(2 ^ math.min(n - free_failures, max_exponent), cap, lockout)
end

local stored = redis.call('HMGET', KEYS[1], 'failures', 'last')
local failures = tonumber(stored[1]) or 0
local last_text = stored[2] or now_text
local last = tonumber(last_text) or now
if failures == 0 or now >= last + math.max(window, wait(failures)) then
    failures, last_text, last = 0, now_text, now
end
if now > last then
    last_text, last = now_text, now
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'failures', failures, 'last', last_text)
local keep = last + math.max(window, wait(failures)) - now
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(keep * 1000)))
return {failures, last_text}
"""


class RedisAttempts:
    """Attempts in Redis (production): one hash per key, changed atomically by a Lua script, with a TTL."""

    def __init__(
        self,
        redis: Redis,
        policy: AttemptPolicy,
        *,
        prefix: str = "studio:attempts:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._fail = redis.register_script(_FAIL_SCRIPT)

    def retry_after(self, key: str) -> float:
        failures, last = self._redis.hmget(self._name(key), ["failures", "last"])
        if failures is None or last is None:
            return 0.0
        return self.policy.retry_after(int(failures), float(last), self._clock())

    def fail(self, key: str) -> float:
        now = self._clock()
        policy = self.policy
        args: list[str | int] = [
            repr(now),
            repr(float(policy.window_seconds)),
            repr(float(policy.lockout_seconds)),
            policy.max_failures,
            policy.free_failures,
            repr(BACKOFF_CAP_SECONDS),
            _MAX_EXPONENT,
        ]
        failures, last = self._fail(keys=[self._name(key)], args=args)
        return policy.retry_after(int(failures), float(last), now)

    def clear(self, key: str) -> None:
        self._redis.delete(self._name(key))

    def _name(self, key: str) -> str:
        # Hashed, so whatever a user types never becomes key syntax or an unbounded key name.
        return self._prefix + hashlib.sha256(key.encode()).hexdigest()
