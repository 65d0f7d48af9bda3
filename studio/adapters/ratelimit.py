"""Rate limits with the `limits` library: Redis in production (shared by every app and worker process),
memory in embedded mode. A moving window per rule and key: a burst cannot run past a window's edge."""

from __future__ import annotations

import math
import time
from typing import Protocol

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

_PREFIX = "studio"


class RateLimiter(Protocol):
    def hit(self, rules: str, *keys: str) -> float | None:
        """Count one hit of `keys` against `rules` ("30/minute;300/hour"); None while within all of them,
        else the seconds until the next hit would be allowed (and this one is not counted)."""
        ...


class LimitsRateLimiter:
    def __init__(self, storage_uri: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, rules: str, *keys: str) -> float | None:
        items = parse_many(rules)
        for item in items:  # look first: a refused hit takes nothing from any window
            if not self._limiter.test(item, _PREFIX, *keys):
                stats = self._limiter.get_window_stats(item, _PREFIX, *keys)
                return max(1.0, math.ceil(stats.reset_time - time.time()))
        for item in items:
            self._limiter.hit(item, _PREFIX, *keys)
        return None


def storage_uri(redis_url: str | None) -> str:
    """Redis when the studio has one (limits share it across processes), else this process's memory."""
    return redis_url if redis_url else "memory://"
