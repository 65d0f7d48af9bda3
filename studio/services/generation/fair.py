"""The fair queue: which waiting generation jobs go to a worker next (ARCHITECTURE.md, "Batches, fairness
and recovery").

fal's concurrency is shared by every user of the studio, so a job is not handed to the job queue when it
is made: it waits in its row (`queued`, not `dispatched_at`) until `dispatch` lets it go. A pass hands
out the free slots (GENERATION_SLOTS, or the workers running, less the jobs in flight) one at a time, in
turns:

- the person served least recently (by their newest `dispatched_at`; never served counts as longest ago;
  between people served equally long ago, whoever's work waited longest) goes next, as in InvokeAI's
  multi-user queue: A1 A2 A3 B1 C1 runs as A1 B1 C1 A2 A3;
- nobody holds more slots than their plan allows (`studio.domain.batches.ALLOWANCES`);
- within one person's work: priority (run next, high, normal, low), then age, then batch row;
- a paused, cancelled or scheduled-for-later batch's jobs wait; one that joins a batch after it was
  cancelled (the fallback run of a row that was at the provider) is cancelled and refunded by the pass.

A pass runs after every submission, after every job a worker ends, and once a second in the duties of
every job-running process (a scheduled batch's time, a resume, and a crashed pass all get picked up
there). Passes never overlap: an advisory lock on PostgreSQL, a lock of the process on SQLite (embedded
mode is one process). A job's deadline starts when it is dispatched: waiting for its turn never times out.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Batch, GenerationJob, Plan, Subscription, User, utcnow
from studio.domain.batches import allowance
from studio.domain.generation import JobStatus
from studio.errors import QueueError
from studio.services import dispatch as queueing
from studio.services.context import Services
from studio.services.generation import lifecycle

log = logging.getLogger(__name__)

_LOCK_KEY = 0x0FA1_2026  # pg_advisory_xact_lock key of a dispatch pass
_LOCAL = threading.Lock()
_UNFINISHED = tuple(status.value for status in JobStatus if not status.finished)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Pick:
    job_id: uuid.UUID
    owner_id: uuid.UUID
    attempt: int
    priority: int
    created_at: datetime


def held(now: datetime) -> sa.ColumnElement[bool]:
    """The jobs of a batch that must not start now: paused, cancelled or scheduled for later."""
    return sa.exists().where(
        Batch.id == GenerationJob.batch_id,
        (Batch.paused_at.is_not(None))
        | (Batch.cancelled_at.is_not(None))
        | ((Batch.run_at.is_not(None)) & (Batch.run_at > now)),
    )


def waiting(now: datetime) -> sa.ColumnElement[bool]:
    """Jobs waiting for their turn that may go now."""
    return (
        (GenerationJob.status == JobStatus.QUEUED.value)
        & GenerationJob.dispatched_at.is_(None)
        & GenerationJob.cancel_requested_at.is_(None)
        & ~held(now)
    )


def in_flight(session: Session) -> dict[uuid.UUID, int]:
    """Jobs holding a slot, per owner: dispatched, unfinished, and not yet done at the provider (a job
    whose result is stored only downloads and keeps its images from then on: its slot is free)."""
    rows = session.execute(
        sa.select(GenerationJob.owner_id, sa.func.count())
        .where(
            GenerationJob.status.in_(_UNFINISHED),
            GenerationJob.dispatched_at.is_not(None),
            GenerationJob.result.is_(None),
        )
        .group_by(GenerationJob.owner_id)
    ).all()
    return {owner: int(count) for owner, count in rows}


def plan_codes(session: Session, owners: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not owners:
        return {}
    rows = session.execute(
        sa.select(Subscription.user_id, Plan.code)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id.in_(owners))
    ).all()
    return {owner: str(code) for owner, code in rows}


def slots_of(session: Session, owners: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many jobs each of these people may have at the provider at once (by plan)."""
    codes = plan_codes(session, owners)
    return {owner: allowance(codes.get(owner)).slots for owner in owners}


def _candidates(session: Session, now: datetime, per_owner: int) -> dict[uuid.UUID, list[_Pick]]:
    """Each owner's next `per_owner` waiting jobs, in their own order."""
    ranked = (
        sa.select(
            GenerationJob.id,
            GenerationJob.owner_id,
            GenerationJob.attempts,
            GenerationJob.priority,
            GenerationJob.created_at,
            sa.func.row_number()
            .over(
                partition_by=GenerationJob.owner_id,
                order_by=(
                    GenerationJob.priority.desc(),
                    GenerationJob.created_at,
                    GenerationJob.batch_row,
                    GenerationJob.id,
                ),
            )
            .label("place"),
        )
        .where(waiting(now))
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.id, ranked.c.owner_id, ranked.c.attempts, ranked.c.priority, ranked.c.created_at)
        .where(ranked.c.place <= per_owner)
        .order_by(ranked.c.owner_id, ranked.c.place)
    ).all()
    found: dict[uuid.UUID, list[_Pick]] = {}
    for job_id, owner, attempt, priority, created_at in rows:
        found.setdefault(owner, []).append(_Pick(job_id, owner, attempt, priority, created_at))
    return found


def _owners(
    session: Session, owners: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, datetime]]:
    """In one query: each owner's slots (by plan), and when they were last served (never: absent)."""
    served = (
        sa.select(sa.func.max(GenerationJob.dispatched_at))
        .where(GenerationJob.owner_id == User.id)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(User.id, Plan.code, served)
        .select_from(User)
        .outerjoin(Subscription, Subscription.user_id == User.id)
        .outerjoin(Plan, Plan.id == Subscription.plan_id)
        .where(User.id.in_(owners))
    ).all()
    caps = {owner: allowance(None).slots for owner in owners}
    last: dict[uuid.UUID, datetime] = {}
    for owner, code, at in rows:
        caps[owner] = allowance(code).slots
        if at is not None:
            last[owner] = at
    return caps, last


def take_turns(
    candidates: dict[uuid.UUID, list[_Pick]],
    free: int,
    running: dict[uuid.UUID, int],
    caps: dict[uuid.UUID, int],
    last_served: dict[uuid.UUID, datetime],
) -> list[_Pick]:
    """Hand out `free` slots: the least recently served owner with a job and a free slot of their own
    first; each one served goes to the back of the line. Among owners served equally long ago (never,
    say), the one whose work has waited longest goes first."""
    waited = {owner: min(pick.created_at for pick in jobs) for owner, jobs in candidates.items() if jobs}
    line = sorted(
        candidates,
        key=lambda owner: (last_served.get(owner, _EPOCH), waited.get(owner, _EPOCH), str(owner)),
    )
    holding = dict(running)
    picked: list[_Pick] = []
    while free > 0 and line:
        owner = line.pop(0)
        jobs = candidates[owner]
        if not jobs or holding.get(owner, 0) >= caps[owner]:
            continue  # nothing more of theirs can go now: out of this pass's line
        picked.append(jobs.pop(0))
        holding[owner] = holding.get(owner, 0) + 1
        free -= 1
        line.append(owner)
    return picked


CAPACITY_SECONDS = 2.0
_capacity: list[float] = []  # [counted at (monotonic), count]: the job queue's capacity, counted lately


def slots(services: Services) -> int:
    """The provider's slots for everybody together: GENERATION_SLOTS, or as many jobs as the job queue
    runs at once (the workers registered now, counted at most every CAPACITY_SECONDS)."""
    configured = services.settings.generation_slots
    if configured is not None:
        return configured
    now = time.monotonic()
    if _capacity and now - _capacity[0] < CAPACITY_SECONDS:
        return int(_capacity[1])
    try:
        count = services.queue.capacity()
    except QueueError:
        return int(_capacity[1]) if _capacity else 0
    _capacity[:] = [now, count]
    return count


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


def _cancel_strays(session: Session) -> int:
    """Cancel and refund the jobs that joined a batch after it was cancelled (a row at the provider when
    the batch was cancelled fails there and gets its fallback run): held for ever, they would keep their
    credits and the batch would never end. The number cancelled."""
    strays = session.scalars(
        sa.select(GenerationJob)
        .where(
            GenerationJob.status == JobStatus.QUEUED.value,
            GenerationJob.dispatched_at.is_(None),
            sa.exists().where(Batch.id == GenerationJob.batch_id, Batch.cancelled_at.is_not(None)),
        )
        .order_by(GenerationJob.id)
        .with_for_update()
    ).all()
    return sum(
        lifecycle.resolve(
            session, job, JobStatus.CANCELLED, "cancelled", "Cancelled with the rest of its batch."
        )
        for job in strays
    )


def _pick(services: Services, session: Session, now: datetime) -> list[_Pick]:
    """The jobs this pass lets go, marked dispatched (in the caller's transaction)."""
    running = in_flight(session)
    free = slots(services) - sum(running.values())
    if free <= 0:
        return []
    candidates = _candidates(session, now, free)
    if not candidates:
        return []
    caps, last_served = _owners(session, list(candidates))
    picked = take_turns(candidates, free, running, caps, last_served)
    deadline = now + timedelta(seconds=services.settings.generation_timeout_seconds)
    for order, pick in enumerate(picked):
        # A microsecond apart: the next pass knows whom this one served last.
        session.execute(
            sa.update(GenerationJob)
            .where(GenerationJob.id == pick.job_id)
            .values(dispatched_at=now + timedelta(microseconds=order), deadline_at=deadline)
            .execution_options(synchronize_session=False)
        )
    return picked


def dispatch(services: Services, *, sweep: bool = False) -> int:
    """One pass: hand the free slots to waiting jobs, fairly; the number of jobs sent to the job queue.
    With `sweep` (the periodic pass), first cancel the strays of cancelled batches."""
    with _LOCAL, services.uow() as uow:
        session = uow.session
        _lock(session)
        swept = _cancel_strays(session) if sweep else 0
        picked = _pick(services, session, utcnow())
        if swept or picked:
            uow.commit()
    sent = 0
    for pick in picked:
        try:
            queueing.generation(services, pick.job_id, pick.attempt, pick.priority)
            sent += 1
        except QueueError:
            log.exception("could not queue job %s: it waits for the next pass", pick.job_id)
            _undispatch(services, pick.job_id)
    return sent


def periodic(services: Services) -> None:
    """The pass every job-running process runs each second (`studio.duties`): scheduled and resumed
    batches start, and nothing a crashed pass left waits longer than a second."""
    dispatch(services, sweep=True)


def _undispatch(services: Services, job_id: uuid.UUID) -> None:
    """The job queue refused a dispatched job: it waits for its turn again (no deadline meanwhile)."""
    with services.uow() as uow:
        uow.session.execute(
            sa.update(GenerationJob)
            .where(GenerationJob.id == job_id, GenerationJob.status == JobStatus.QUEUED.value)
            .values(dispatched_at=None, deadline_at=None)
            .execution_options(synchronize_session=False)
        )
        uow.commit()


def dispatch_quietly(services: Services) -> None:
    """A pass whose failure must not spoil what ran before it (a submission, a job's end): the next pass,
    at most a second later, hands out what this one did not."""
    try:
        dispatch(services)
    except Exception:
        log.exception("the fair queue's pass failed")


class _Soon:
    """Passes on a thread of this process, so a worker does not wait for one: each call asks for a pass;
    calls made while one runs make one more, not one each."""

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._services: Services | None = None

    def __call__(self, services: Services) -> None:
        with self._lock:
            self._services = services
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fair-queue", daemon=True)
                self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._services is not None:
                dispatch_quietly(self._services)


#: Ask for a pass without waiting for it (a worker handing on its slot).
soon = _Soon()
