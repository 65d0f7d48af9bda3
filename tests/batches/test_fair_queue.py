"""The fair queue (studio/services/generation/fair.py) on SQLite and on PostgreSQL (`studio`): per-plan
caps, turns between people, priority within one person's work, paused and scheduled batches held, and
GENERATION_SLOTS for everybody together.

A job is "dispatched" once a pass let it go to the job queue (the FakeQueue records it); no worker runs,
so a slot frees only when a test ends a job (`finish`, `end`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from studio.adapters.db.models import GenerationJob, UsageLog, utcnow
from studio.domain.batches import Priority
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.errors import InvalidInput
from studio.services.batches import control, runs, views
from studio.services.context import Services
from studio.services.generation import fair, submissions
from studio.services.generation.views import get_job
from tests.support.batches import (
    SCHNELL,
    SQUARE,
    count,
    dispatched,
    draft,
    end,
    finish,
    jobs_of,
    put_on_plan,
    with_slots,
)
from tests.support.builders import new_user
from tests.support.fakes import FakeQueue


def batch_of(services: Services, owner: uuid.UUID, rows: int, key: str, **fields: object) -> list[uuid.UUID]:
    """A batch of `rows` one-credit jobs; its job ids in row order."""
    made = draft([f"{key}: a fox, take {n}" for n in range(1, rows + 1)], **fields)  # type: ignore[arg-type]
    return [job.id for job in jobs_of(services, runs.start_batch(services, owner, made, key))]


def small(prompt: str) -> Request:
    """A single one-credit request, as Generate sends it."""
    return Request(SCHNELL, prompt, params=dict(SQUARE))


def queued(services: Services) -> list[str]:
    """The generation jobs handed to the job queue, by job id, in the order they were."""
    assert isinstance(services.queue, FakeQueue)
    return [job["args"][0] for job in services.queue.jobs]


def test_each_plan_holds_at_most_its_slots(studio: Services) -> None:
    free, starter, pro = (new_user(studio, free_plan=True) for _ in range(3))
    put_on_plan(studio, starter, "starter")
    put_on_plan(studio, pro, "pro")
    studio = with_slots(studio, 20)
    for owner, key in ((free, "free"), (starter, "starter"), (pro, "pro")):
        batch_of(studio, owner, 10, key)
    assert [len(dispatched(studio, owner)) for owner in (free, starter, pro)] == [2, 4, 6]
    assert fair.dispatch(studio) == 0  # caps, not a lack of slots: another pass sends nothing
    assert len(queued(studio)) == 12
    finish(studio, dispatched(studio, free)[0])
    assert fair.dispatch(studio) == 1
    assert len(dispatched(studio, free)) == 2


def test_generation_slots_bound_everybody_together(studio: Services) -> None:
    studio = with_slots(studio, 3)
    owners = [new_user(studio, free_plan=True) for _ in range(3)]
    for number, owner in enumerate(owners):
        batch_of(studio, owner, 5, f"b{number}")
    # Each submission's pass hands out what is free: the first takes its plan's two, the second the last.
    assert [len(dispatched(studio, owner)) for owner in owners] == [2, 1, 0]
    assert fair.dispatch(studio) == 0
    end(studio, dispatched(studio, owners[0])[0], "failed")
    assert fair.dispatch(studio) == 1  # to the one never served
    assert [len(dispatched(studio, owner)) for owner in owners] == [1, 1, 1]
    assert fair.dispatch(studio) == 0
    assert len(queued(studio)) == 4


def test_a_newcomers_job_goes_next_however_long_the_other_queue(studio: Services) -> None:
    studio = with_slots(studio, 2)
    busy, newcomer = new_user(studio, free_plan=True), new_user(studio, free_plan=True)
    long_batch = batch_of(studio, busy, 20, "long")
    assert dispatched(studio) == long_batch[:2]
    single = submissions.start_generation(studio, newcomer, small("an owl"), "1")
    assert dispatched(studio, newcomer) == []  # no slot free yet: it waits its turn
    assert single.waiting_turn
    finish(studio, long_batch[0])
    assert fair.dispatch(studio) == 1
    assert dispatched(studio, newcomer) == [single.id]  # not after the other 18
    finish(studio, long_batch[1])
    assert fair.dispatch(studio) == 1
    assert dispatched(studio, busy) == [long_batch[2]]
    assert queued(studio) == [str(job_id) for job_id in [*long_batch[:2], single.id, long_batch[2]]]


def test_turns_go_to_the_least_recently_served_first(studio: Services) -> None:
    studio = with_slots(studio, 1)
    a, b, c = (new_user(studio, free_plan=True) for _ in range(3))
    a_jobs = batch_of(studio, a, 3, "a")
    b_jobs = batch_of(studio, b, 2, "b")
    c_jobs = batch_of(studio, c, 1, "c")
    order = [a_jobs[0]]
    for _ in range(5):
        finish(studio, order[-1])
        assert fair.dispatch(studio) == 1
        order.extend(dispatched(studio))
    # A1 A2 A3 B1 B2 C1, queued in that order, run as A1 B1 C1 A2 B2 A3.
    assert order == [a_jobs[0], b_jobs[0], c_jobs[0], a_jobs[1], b_jobs[1], a_jobs[2]]
    finish(studio, order[-1])
    assert fair.dispatch(studio) == 0


def test_within_one_persons_work_priority_goes_first(studio: Services) -> None:
    studio = with_slots(studio, 1)
    owner = new_user(studio, free_plan=True)
    normal = batch_of(studio, owner, 3, "normal")
    low = batch_of(studio, owner, 1, "low", priority=Priority.LOW)
    urgent = batch_of(studio, owner, 2, "next", priority=Priority.NEXT)
    high = submissions.start_generation(
        studio, owner, small("a hare"), "high", priority=int(Priority.HIGH)
    ).id
    order = [normal[0]]  # it went while nothing else was waiting
    for _ in range(6):
        finish(studio, order[-1])
        fair.dispatch(studio)
        order.extend(dispatched(studio))
    assert order == [normal[0], *urgent, high, normal[1], normal[2], *low]
    assert isinstance(studio.queue, FakeQueue)
    sent_to = {job["args"][0]: job["queue"] for job in studio.queue.jobs}
    assert [sent_to[str(job_id)] for job_id in order] == ["default", "high", "high", "high"] + ["default"] * 3


def test_priority_never_jumps_another_persons_turn(studio: Services) -> None:
    studio = with_slots(studio, 1)
    eager, patient = new_user(studio, free_plan=True), new_user(studio, free_plan=True)
    first = batch_of(studio, eager, 1, "first")
    waiting = batch_of(studio, patient, 1, "waiting")
    urgent = batch_of(studio, eager, 1, "urgent", priority=Priority.NEXT)
    finish(studio, first[0])
    assert fair.dispatch(studio) == 1
    assert dispatched(studio) == waiting  # their turn, whatever the other's priority
    finish(studio, waiting[0])
    assert fair.dispatch(studio) == 1
    assert dispatched(studio) == urgent


def test_a_batch_may_be_moved_up_among_its_owners_work(studio: Services) -> None:
    studio = with_slots(studio, 1)
    owner = new_user(studio, free_plan=True)
    first = batch_of(studio, owner, 2, "first")
    second = batch_of(studio, owner, 2, "second")
    batch_id = jobs_of_batch(studio, second[0])
    control.set_priority(studio, owner, batch_id, Priority.HIGH)
    assert views.get_batch(studio, owner, batch_id).priority is Priority.HIGH
    jobs = {job.id: job for job in jobs_of(studio, batch_id)}
    assert {jobs[job_id].priority for job_id in second} == {int(Priority.HIGH)}
    finish(studio, first[0])
    fair.dispatch(studio)
    assert dispatched(studio) == [second[0]]
    assert job_priority(studio, first[0]) == 0  # what had gone keeps its priority


def jobs_of_batch(services: Services, job_id: uuid.UUID) -> uuid.UUID:
    with services.uow() as uow:
        job = uow.session.get(GenerationJob, job_id)
        assert job is not None
        assert job.batch_id is not None
        return job.batch_id


def job_priority(services: Services, job_id: uuid.UUID) -> int:
    with services.uow() as uow:
        job = uow.session.get(GenerationJob, job_id)
        assert job is not None
        return job.priority


def test_a_paused_batch_sends_nothing_until_it_is_resumed(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    jobs = batch_of(studio, owner, 4, "paused")
    batch_id = jobs_of_batch(studio, jobs[0])
    assert dispatched(studio) == jobs[:2]
    control.pause(studio, owner, batch_id)
    control.pause(studio, owner, batch_id)  # pausing twice is pausing
    view = views.get_batch(studio, owner, batch_id)
    assert (view.paused, view.state, view.eta_seconds) == (True, "paused", None)
    finish(studio, jobs[0])  # what had gone finishes
    finish(studio, jobs[1])
    assert fair.dispatch(studio) == 0
    assert dispatched(studio) == []
    assert views.get_batch(studio, owner, batch_id).counts["queued"] == 2
    control.resume(studio, owner, batch_id)  # its own pass sends the next two
    assert dispatched(studio) == jobs[2:]
    assert views.get_batch(studio, owner, batch_id).state == "running"
    control.cancel(studio, owner, batch_id)
    with pytest.raises(InvalidInput, match="cancelled"):
        control.resume(studio, owner, batch_id)


def test_a_scheduled_batch_waits_for_its_time(studio: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = new_user(studio, free_plan=True)
    when = utcnow() + timedelta(hours=2)
    jobs = batch_of(studio, owner, 3, "later", run_at=when, timezone="Europe/Paris")
    batch_id = jobs_of_batch(studio, jobs[0])
    assert dispatched(studio) == []
    view = views.get_batch(studio, owner, batch_id)
    assert (view.state, view.run_at, view.timezone) == ("scheduled", when, "Europe/Paris")
    assert (view.eta_seconds or 0) > 7200  # two hours, then the runs
    single = submissions.start_generation(studio, owner, small("an owl"), "now")
    assert dispatched(studio) == [single.id]  # the person's other work is not held with it
    assert fair.dispatch(studio) == 0
    monkeypatch.setattr(fair, "utcnow", lambda: when + timedelta(seconds=1))
    assert fair.dispatch(studio) == 1  # the free plan's second slot
    assert dispatched(studio) == [single.id, jobs[0]]


def test_a_cancelled_batch_sends_nothing_more(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    jobs = batch_of(studio, owner, 4, "gone")
    control.cancel(studio, owner, jobs_of_batch(studio, jobs[0]))
    assert fair.dispatch(studio) == 0
    assert count(studio, GenerationJob, GenerationJob.status == JobStatus.CANCELLED.value) == 4


def test_the_eta_comes_from_measured_latency_and_the_place_in_the_queue(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    # schnell's recent runs: 1, 2 and 9 s succeeded (median 2 s); a failure is no measure.
    runs_ms = (("succeeded", 1000), ("succeeded", 2000), ("succeeded", 9000), ("failed", 60_000))
    with studio.uow() as uow:
        uow.session.add_all(
            UsageLog(user_id=owner, model_endpoint=SCHNELL, operation="text_to_image", outcome=outcome,
                     images=1, credits=1, run_ms=ms)
            for outcome, ms in runs_ms
        )  # fmt: skip
        uow.commit()
    jobs = batch_of(studio, owner, 5, "eta")
    batch_id = jobs_of_batch(studio, jobs[0])
    assert get_job(studio, owner, jobs[0]).eta_seconds == pytest.approx(2.0)  # sent: one run
    # The last row: two ahead of it and two in flight on the free plan's two slots, so half a run for a
    # slot to free, then two rounds.
    assert get_job(studio, owner, jobs[4]).eta_seconds == pytest.approx(1.0 + 2 * 2.0)
    assert views.get_batch(studio, owner, batch_id).eta_seconds == pytest.approx(1.0 + 2 * 2.0)
    # A new batch of two goes after the three waiting.
    shown = runs.preview(studio, owner, draft(["an owl", "a deer"]))
    assert shown.eta_seconds == pytest.approx(1.0 + 3 * 2.0)
    # With somebody else waiting too, two slots in all are shared: one each.
    shared = with_slots(studio, 2)
    other = new_user(shared, free_plan=True)
    submissions.start_generation(shared, other, small("a crow"), "crow")
    assert get_job(shared, owner, jobs[4]).eta_seconds == pytest.approx(1.0 + 3 * 2.0)
    for job_id in jobs:
        finish(shared, job_id)
    assert get_job(shared, owner, jobs[4]).eta_seconds is None
    assert views.get_batch(shared, owner, batch_id).eta_seconds is None
