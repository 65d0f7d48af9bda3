"""Enqueue latency: one `start_generation` call, which returns once the job row (with its credit
reservation) is committed and the job id is queued in RQ. No worker runs; the queued jobs are flushed
with Redis db 15 and the scratch database is dropped at the end.

    uv run python bench/enqueue.py [--calls 300]

Prints p50/p95/p99 (target: p95 <= 50 ms) and a split of a call's time into its parts, measured by
timing the same parts separately. Exits 0 either way.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from statistics import median

from bench._stack import CpuMonitor, Stack, percentile, verdict
from studio.domain.generation import JobStatus
from studio.services import dispatch
from studio.services.generation import catalogue, submissions
from studio.services.generation.submissions import start_generation
from studio.services.generation.views import get_job

TARGET_MS = 50.0


def timed_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        action()
        samples.append((time.perf_counter() - t) * 1000)
    return median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    with Stack(with_fal=False) as stack:
        services = stack.services
        account_id = stack.account(jobs=args.calls + args.warmup + 1)
        request = stack.request()
        for _ in range(args.warmup):
            start_generation(services, account_id, request, uuid.uuid4().hex, again=True)

        monitor = CpuMonitor(stack.database_name)
        samples: list[float] = []
        for _ in range(args.calls):
            t = time.perf_counter()
            view = start_generation(services, account_id, request, uuid.uuid4().hex, again=True)
            samples.append((time.perf_counter() - t) * 1000)
            assert view.status is JobStatus.QUEUED
        load = monitor.report()
        queued = services.queue.stats().queued
        assert queued >= args.calls, f"only {queued} jobs in the queue"

        # The parts of one call, each timed on its own (median of 50).
        last = view.id
        parts = {
            "idempotency-key lookup (_find_by_key, a miss)": timed_ms(
                lambda: submissions._find_by_key(services, account_id, uuid.uuid4().hex), 50
            ),
            "model spec from the catalogue table": timed_ms(
                lambda: catalogue.model_spec(services, request.model), 50
            ),
            "RQ enqueue (one job)": timed_ms(lambda: dispatch.generation(services, uuid.uuid4(), 1, 0), 50),
            "get_job (the returned view, 0 images)": timed_ms(
                lambda: get_job(services, account_id, last), 50
            ),
        }

    p50, p95, p99 = (percentile(samples, q) for q in (50, 95, 99))
    print(f"\n{args.calls} start_generation calls (row + reservation committed, id queued in RQ), no worker")
    print(f"  p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {max(samples):.1f} ms")
    print("  parts, each timed alone (median ms; the rest is the insert + reservation transaction):")
    for name, ms in parts.items():
        print(f"    {name:<48} {ms:6.1f}")
    print(f"    {'(remainder: job insert + credit reservation tx)':<48} {p50 - sum(parts.values()):6.1f}")
    print(f"  {load}")
    print(f"enqueue: p95 {p95:.1f} ms (target <= {TARGET_MS:.0f} ms) -> {verdict(p95 <= TARGET_MS)}")


if __name__ == "__main__":
    main()
