"""Health: is each service the studio depends on answering?"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="studio-health")


class Checkable(Protocol):
    @property
    def backend(self) -> str: ...

    def check(self) -> None:
        """Return if healthy, raise otherwise."""
        ...


@dataclass(frozen=True)
class Check:
    name: str
    backend: str
    ok: bool
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "checks": {
                check.name: {
                    "ok": check.ok,
                    "backend": check.backend,
                    "latency_ms": round(check.latency_ms, 1),
                }
                | ({"error": check.error} if check.error else {})
                for check in self.checks
            },
        }


def _timed(component: Checkable) -> float:
    started = time.perf_counter()
    component.check()
    return (time.perf_counter() - started) * 1000


def check_health(components: Mapping[str, Checkable], timeout: float = CHECK_TIMEOUT_SECONDS) -> HealthReport:
    """Run every check at once; one that fails or takes longer than `timeout` marks its service down."""
    started = time.perf_counter()
    futures = {name: _pool.submit(_timed, component) for name, component in components.items()}
    checks = []
    for name, future in futures.items():
        backend = components[name].backend
        remaining = max(0.0, timeout - (time.perf_counter() - started))
        try:
            checks.append(Check(name, backend, True, future.result(timeout=remaining)))
        except FutureTimeout:
            checks.append(Check(name, backend, False, timeout * 1000, f"no answer within {timeout:g} s"))
        except Exception as err:  # any failure of a dependency is a failed check, reported below
            log.warning("health check %s (%s) failed: %s", name, backend, err)
            message = str(err).splitlines()[0][:200] if str(err) else ""
            checks.append(
                Check(
                    name,
                    backend,
                    False,
                    (time.perf_counter() - started) * 1000,
                    f"{type(err).__name__}: {message}",
                )
            )
    return HealthReport(tuple(checks))
