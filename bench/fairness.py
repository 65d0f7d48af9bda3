"""Fairness of the queue between people: the real `worker.py --workers 8`, the fake fal at a fixed latency.

1. **A newcomer behind a big batch.** User A (Studio plan, 8 slots) starts a 300-job batch; once A holds
   every slot, user B (Free plan) submits one job. B's job should wait about one job's duration (the next
   slot that frees goes to B, the least recently served), not the 300 / 8 job durations a first-come queue
   would make it wait. Prints B's wait and time to done against one job's measured duration.
2. **Three batches at once.** Users X, Y and Z (Studio plans, so no cap binds) schedule batches of 300, 30
   and 3 to start at the same moment. While all three have jobs waiting, each should get a third of the
   slots handed out; and while X and Y both wait, each should hold about half of the slot-time. Prints the
   handouts and the slot-time shares (dispatched_at -> finished_at of each job) against equal shares.
   With 8 slots and 3 people no instant is equal (3 + 3 + 2), so slot-time is measured between X and Y
   over Y's long backlog, and handouts over Z's short one.

    uv run python bench/fairness.py [--workers 8] [--latency 1.0]

Exits 0 either way; prints PASS/FAIL for each figure (target: within 10 % of equal, B's wait at most 1.5
job durations).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from bench._stack import Stack, verdict
from studio.adapters.db.models import GenerationJob, utcnow
from studio.domain.batches import Row, Source
from studio.domain.generation import JobStatus
from studio.services.batches import control, runs
from studio.services.generation.submissions import start_generation

TOLERANCE = 0.10
NEWCOMER_TARGET = 1.5  # job durations


def account(stack: Stack, jobs: int, code: str) -> uuid.UUID:
    return stack.account(jobs, plan=code)


def batch(stack: Stack, owner: uuid.UUID, rows: int, name: str, run_at: datetime | None = None) -> uuid.UUID:
    draft = runs.Draft(
        name,
        Source.LINES,
        stack.request(),
        [Row(f"{stack.request().prompt} #{n}") for n in range(rows)],
        run_at=run_at,
    )
    return runs.start_batch(stack.services, owner, draft, uuid.uuid4().hex)


def jobs_of(stack: Stack, owners: list[uuid.UUID]) -> list[GenerationJob]:
    with stack.services.uow() as uow:
        found = list(uow.session.scalars(sa.select(GenerationJob).where(GenerationJob.owner_id.in_(owners))))
        for job in found:
            uow.session.expunge(job)
    return found


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll lightly: the fake fal shares this process (and its GIL) with the polling."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def count(stack: Stack, *where: sa.ColumnElement[bool]) -> int:
    with stack.services.uow() as uow:
        return int(
            uow.session.scalar(sa.select(sa.func.count()).select_from(GenerationJob).where(*where)) or 0
        )


def in_flight(stack: Stack, owner: uuid.UUID) -> int:
    unfinished = [s.value for s in JobStatus if not s.finished]
    with stack.services.uow() as uow:
        return int(
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(GenerationJob)
                .where(
                    GenerationJob.owner_id == owner,
                    GenerationJob.status.in_(unfinished),
                    GenerationJob.dispatched_at.is_not(None),
                )
            )
            or 0
        )


def drained(stack: Stack, owners: list[uuid.UUID]) -> bool:
    return count(stack, GenerationJob.owner_id.in_(owners), GenerationJob.finished_at.is_(None)) == 0


def warm_up(stack: Stack, workers: int) -> None:
    """One untimed job per worker first: a worker's first job opens its connections (fal, S3, database)."""
    owner = account(stack, workers, "studio")
    batch(stack, owner, workers, "warm-up")
    wait_until(lambda: drained(stack, [owner]), 120, "the warm-up jobs")


def newcomer(stack: Stack, workers: int, latency: float) -> None:
    a = account(stack, 300, "studio")
    b = account(stack, 1, "free")
    big = batch(stack, a, 300, "A's 300")
    wait_until(lambda: in_flight(stack, a) >= workers, 60, "A to hold every slot")
    time.sleep(latency / 2)  # in the middle of A's runs, as a person would arrive
    job = start_generation(stack.services, b, stack.request(), uuid.uuid4().hex)
    wait_until(lambda: drained(stack, [b]), 120, "B's job")
    (mine,) = jobs_of(stack, [b])
    control.cancel(stack.services, a, big)
    wait_until(lambda: drained(stack, [a]), 120, "A's running jobs")
    runs_a = [
        (j.finished_at - j.started_at).total_seconds()
        for j in jobs_of(stack, [a])
        if j.status == JobStatus.SUCCEEDED.value and j.started_at and j.finished_at
    ]
    duration = statistics.median(runs_a)
    assert job.id == mine.id
    assert mine.dispatched_at is not None
    assert mine.finished_at is not None
    waited = (mine.dispatched_at - mine.created_at).total_seconds()
    done = (mine.finished_at - mine.created_at).total_seconds()
    fifo = 300 / workers * duration
    print(f"\n1. A newcomer behind a 300-job batch ({workers} slots, fake fal {latency:.1f} s)")
    print(f"  one job's duration (median of A's runs): {duration:.2f} s")
    print(
        f"  B waited for a slot {waited:.2f} s = {waited / duration:.2f} job durations; "
        f"done after {done:.2f} s"
    )
    print(
        f"  a first-come queue would have made B wait about {fifo:.0f} s ({300 / workers:.1f} job durations)"
    )
    ratio = waited / duration
    print(
        f"fairness/newcomer: B's wait {ratio:.2f} job durations (target <= {NEWCOMER_TARGET}) -> "
        f"{verdict(ratio <= NEWCOMER_TARGET)}"
    )


def _overlap(job: GenerationJob, start: datetime, end: datetime) -> float:
    if job.dispatched_at is None or job.finished_at is None:
        return 0.0
    return max(0.0, (min(job.finished_at, end) - max(job.dispatched_at, start)).total_seconds())


def three_batches(stack: Stack, workers: int, latency: float) -> None:
    sizes = {"X": 300, "Y": 30, "Z": 3}
    owners = {name: account(stack, size, "studio") for name, size in sizes.items()}
    start_at = utcnow() + timedelta(seconds=3)
    made = {name: batch(stack, owners[name], size, name, start_at) for name, size in sizes.items()}
    y_waits = (GenerationJob.owner_id == owners["Y"], GenerationJob.dispatched_at.is_(None))
    wait_until(lambda: count(stack, *y_waits) == 0, 300, "Y's last job to be dispatched")
    control.cancel(stack.services, owners["X"], made["X"])
    wait_until(lambda: drained(stack, list(owners.values())), 120, "the running jobs")
    jobs = {name: jobs_of(stack, [owner]) for name, owner in owners.items()}
    dispatched = sorted(
        (j.dispatched_at, name) for name, found in jobs.items() for j in found if j.dispatched_at is not None
    )
    first = dispatched[0][0]

    def backlog_end(name: str) -> datetime:  # the moment the person's last waiting job got its slot
        return max(j.dispatched_at for j in jobs[name] if j.dispatched_at is not None)

    z_end = backlog_end("Z")
    handed = {name: sum(1 for at, who in dispatched if who == name and at <= z_end) for name in sizes}
    total = sum(handed.values())
    print(f"\n2. Batches of 300, 30 and 3 scheduled for the same moment ({workers} slots)")
    print(f"  slots handed out while all three had jobs waiting: {handed} (equal: {total / 3:.1f} each)")
    worst = max(abs(count / total - 1 / 3) * 3 for count in handed.values())
    y_end = backlog_end("Y")
    held = {name: sum(_overlap(j, first, y_end) for j in jobs[name]) for name in ("X", "Y")}
    both = sum(held.values())
    shares = {name: seconds / both for name, seconds in held.items()}
    window = (y_end - first).total_seconds()
    print(
        f"  slot-time while X and Y both had jobs waiting ({window:.1f} s): "
        + ", ".join(f"{name} {share:.1%}" for name, share in shares.items())
        + " (equal: 50%)"
    )
    z_done = max(j.finished_at for j in jobs["Z"] if j.finished_at) - first
    print(f"  Z's 3 jobs were done {z_done.total_seconds():.1f} s after the start ({latency:.1f} s a job)")
    worst_time = max(abs(share - 0.5) * 2 for share in shares.values())
    print(
        f"fairness/handouts: worst {worst:.1%} from equal (target <= {TOLERANCE:.0%}) -> "
        f"{verdict(worst <= TOLERANCE)}"
    )
    print(
        f"fairness/slot-time: worst {worst_time:.1%} from equal (target <= {TOLERANCE:.0%}) -> "
        f"{verdict(worst_time <= TOLERANCE)}"
    )


class FairStack(Stack):
    """The stack with GENERATION_SLOTS set to the workers, in this process and in theirs."""

    slots: int = 8

    def worker_env(self) -> dict[str, str]:
        return super().worker_env() | {"GENERATION_SLOTS": str(self.slots)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency", type=float, default=1.0, help="fake fal IN_PROGRESS seconds")
    args = parser.parse_args()
    with FairStack() as stack:
        assert stack.fal is not None
        stack.slots = args.workers
        stack.services.settings = stack.services.settings.model_copy(
            update={"generation_slots": args.workers}
        )
        stack.latency = args.latency
        stack.fal.configure(latency=args.latency, queue_time=0.0)
        stack.start_workers(args.workers)
        warm_up(stack, args.workers)
        newcomer(stack, args.workers, args.latency)
        three_batches(stack, args.workers, args.latency)


if __name__ == "__main__":
    main()
