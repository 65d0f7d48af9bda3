"""Crash recovery: N jobs through `python worker.py --workers W`, the whole worker group SIGKILLed K times at
random moments (2-4 s after each start), then started once more.

Measures, from the last kill: the time until every job is terminal, and the worst job's (the last to end).
The baseline, measured in the same run, is the same N jobs on a fresh pool that is never killed: its
makespan is the time the work itself takes. Targets: recovery - baseline <= JOB_STALE_SECONDS +
RECONCILE_INTERVAL_SECONDS + 10 s, 0 stuck jobs, 0 double charges, ledger sum = balance.

    uv run python bench/crash.py [--jobs 60] [--workers 4] [--kills 20] [--latency 3.0]

Exits 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from redis import Redis
from rq import Worker

from bench._stack import ENDPOINT, ROOT, Stack, verdict
from studio.adapters.db.models import CreditLedger, GenerationJob
from studio.domain.generation import JobStatus
from studio.services.billing import ledger
from studio.services.generation.submissions import start_generation

STALE, INTERVAL = 10, 5


def session_pids(leader: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == leader and fields[0] != "Z":
                found.append(int(entry.name))
    return found


class Pool:
    """`python worker.py --workers W` in a session of its own, killed as a whole."""

    def __init__(self, stack: Stack, workers: int) -> None:
        env = stack.worker_env() | {
            "JOB_STALE_SECONDS": str(STALE),
            "RECONCILE_INTERVAL_SECONDS": str(INTERVAL),
        }
        self.log = (stack.tmp / f"crash-{uuid.uuid4().hex[:6]}.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, str(ROOT / "worker.py"), "--workers", str(workers)],
            env=env, cwd=stack.tmp, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        redis = Redis.from_url(stack.redis_url)
        deadline = time.monotonic() + 60
        try:
            while (
                sum(w.pid in session_pids(self.process.pid) for w in Worker.all(connection=redis)) < workers
            ):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the worker pool did not start")
                time.sleep(0.05)
        finally:
            redis.close()

    def kill(self) -> None:
        for pid in session_pids(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        while session_pids(self.process.pid):
            time.sleep(0.02)
        self.log.close()

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(20)
        self.kill()


def submit(stack: Stack, account_id: uuid.UUID, jobs: int) -> list[uuid.UUID]:
    request = stack.request()
    return [
        start_generation(stack.services, account_id, request, uuid.uuid4().hex, again=True).id
        for _ in range(jobs)
    ]


def unfinished(stack: Stack, job_ids: list[uuid.UUID]) -> int:
    done = tuple(status.value for status in JobStatus if status.finished)
    with stack.services.uow() as uow:
        return int(
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(GenerationJob)
                .where(GenerationJob.id.in_(job_ids), GenerationJob.status.not_in(done))
            )
            or 0
        )


def wait_all(
    stack: Stack, job_ids: list[uuid.UUID], limit: float, start: float | None = None
) -> float | None:
    """Seconds from `start` (now by default) until every job is terminal; None past `limit`."""
    start = time.monotonic() if start is None else start
    while unfinished(stack, job_ids):
        if time.monotonic() - start > limit:
            return None
        time.sleep(0.1)
    return time.monotonic() - start


def audit(stack: Stack, account_id: uuid.UUID, job_ids: list[uuid.UUID]) -> tuple[Counter[str], int, bool]:
    """Statuses, jobs charged more than once (two reserves or two settles), ledger sum == balance."""
    with stack.services.uow() as uow:
        statuses = Counter(
            uow.session.scalars(sa.select(GenerationJob.status).where(GenerationJob.id.in_(job_ids)))
        )
        rows = Counter(
            uow.session.execute(
                sa.select(CreditLedger.job_id, CreditLedger.kind).where(CreditLedger.job_id.in_(job_ids))
            ).all()
        )
        doubled = sum(1 for count in rows.values() if count > 1)
        balanced = ledger.balance(uow.session, account_id) == ledger.ledger_sum(uow.session, account_id)
    return statuses, doubled, balanced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    chance = random.Random(args.seed)
    with Stack(latency=args.latency) as stack:
        assert stack.fal is not None
        stack.fal.configure(ENDPOINT, latency=args.latency)
        # Baseline: the same work on a pool that is never killed.
        account = stack.account(2 * args.jobs)
        pool = Pool(stack, args.workers)
        baseline_ids = submit(stack, account, args.jobs)
        baseline = wait_all(stack, baseline_ids, limit=600) or float("nan")  # from the first submit
        pool.stop()
        # The run: K kills of the whole group at random moments.
        job_ids = submit(stack, account, args.jobs)
        for _ in range(args.kills):
            pool = Pool(stack, args.workers)
            time.sleep(chance.uniform(2.0, 4.0))
            pool.kill()
        last_kill = time.monotonic()
        pool = Pool(stack, args.workers)  # started again at once, as a supervisor would
        recovered = wait_all(stack, job_ids, limit=600, start=last_kill)
        pool.stop()
        statuses, doubled, balanced = audit(stack, account, job_ids)
    bound = STALE + INTERVAL + 10
    stuck = sum(n for status, n in statuses.items() if not JobStatus(status).finished)
    print(f"crash recovery: {args.jobs} jobs at {args.latency} s, {args.workers} workers, {args.kills} kills")
    print(f"  baseline (never killed): all {args.jobs} terminal in {baseline:.1f} s")
    if recovered is None:
        print(f"crash: {stuck} jobs still unfinished 600 s after the last kill -> {verdict(False)}")
        return
    print(
        f"  after the last kill: every job terminal in {recovered:.1f} s (the worst job; "
        f"target <= {bound} s)  {verdict(recovered <= bound)}"
    )
    extra = recovered - baseline
    print(
        f"  recovery beyond the work itself: {extra:.1f} s (target <= {bound} s)  {verdict(extra <= bound)}"
    )
    print(f"  statuses: {dict(statuses)}")
    print(f"  stuck jobs: {stuck}  {verdict(stuck == 0)}")
    print(f"  double charges: {doubled}  {verdict(doubled == 0)}")
    print(f"  ledger sum = balance: {balanced}  {verdict(balanced)}")
    ok = recovered <= bound and stuck == 0 and doubled == 0 and balanced
    print(f"crash: every job terminal {recovered:.1f} s after the last kill, {stuck} stuck -> {verdict(ok)}")


if __name__ == "__main__":
    main()
