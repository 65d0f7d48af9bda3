"""One contract for every job queue: RQ on a real Redis (SimpleWorker), the in-process runner, the fake."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import SimpleWorker

from studio.adapters.queue import InProcessQueue, JobQueue, RQQueue
from studio.errors import QueueError
from tests.support import queue_jobs
from tests.support.env import wait_for
from tests.support.fakes import FakeQueue

QUEUES = ("high", "default", "low")


@dataclass
class Runner:
    queue: JobQueue
    drain: Callable[[], None]  # run everything that is due, then return


@pytest.fixture(params=["rq", "in-process", "fake"])
def runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    if request.param == "rq":
        connection: Redis = request.getfixturevalue("redis_conn")
        rq_queue = RQQueue(connection, QUEUES)

        def drain_rq() -> None:
            SimpleWorker(list(QUEUES), connection=connection).work(burst=True, with_scheduler=True)

        yield Runner(rq_queue, drain_rq)
    elif request.param == "in-process":
        local: InProcessQueue = request.getfixturevalue("in_process_queue")

        def drain_local() -> None:
            local.start()
            wait_for(lambda: _idle(local))

        yield Runner(local, drain_local)
    else:
        fake = FakeQueue(QUEUES)
        yield Runner(fake, fake.run_all)


def _idle(queue: JobQueue) -> bool:
    """Nothing due is waiting or running (jobs delayed into the future may remain)."""
    stats = queue.stats()
    return stats.queued == 0 and stats.running == 0


@pytest.fixture
def log(tmp_path: Path) -> str:
    return str(tmp_path / "runs.log")


def test_an_enqueued_job_runs(runner: Runner, log: str) -> None:
    runner.queue.enqueue(queue_jobs.record, log, "one")
    runner.drain()
    assert queue_jobs.runs(log) == ["one"]


def test_enqueue_returns_the_job_id(runner: Runner, log: str) -> None:
    assert runner.queue.enqueue(queue_jobs.record, log, "x", job_id="job-1") == "job-1"
    assert runner.queue.enqueue(queue_jobs.record, log, "y")  # a generated id


def test_the_same_job_id_is_accepted_once_while_pending(runner: Runner, log: str) -> None:
    for _ in range(3):
        runner.queue.enqueue(queue_jobs.record, log, "once", job_id="dedupe-1")
    runner.drain()
    assert queue_jobs.runs(log) == ["once"]


def test_high_priority_jobs_run_first(runner: Runner, log: str) -> None:
    runner.queue.enqueue(queue_jobs.record, log, "low", queue="low")
    runner.queue.enqueue(queue_jobs.record, log, "default")
    runner.queue.enqueue(queue_jobs.record, log, "high", queue="high")
    runner.drain()
    assert queue_jobs.runs(log) == ["high", "default", "low"]


def test_a_delayed_job_runs_once_due_and_not_before(runner: Runner, log: str) -> None:
    # RQ keeps scheduled times in whole seconds (truncated), so "in a second" may come due at once:
    # only a job that is clearly in the future may be asserted not to run.
    runner.queue.enqueue(queue_jobs.record, log, "in a minute", delay=timedelta(minutes=1))
    runner.queue.enqueue(queue_jobs.record, log, "in a second", delay=timedelta(seconds=1))
    runner.queue.enqueue(queue_jobs.record, log, "now")
    due = time.time() + 1
    runner.drain()
    assert "now" in queue_jobs.runs(log)
    assert "in a minute" not in queue_jobs.runs(log)
    wait_for(lambda: time.time() > due + 0.05, timeout=5)
    runner.drain()
    assert sorted(queue_jobs.runs(log)) == ["in a second", "now"]
    assert runner.queue.stats().scheduled == 1


def test_a_failing_job_is_counted_and_others_still_run(runner: Runner, log: str) -> None:
    runner.queue.enqueue(queue_jobs.fail, log, "bad")
    runner.queue.enqueue(queue_jobs.record, log, "good")
    runner.drain()
    assert sorted(queue_jobs.runs(log)) == ["bad", "good"]
    assert runner.queue.stats().failed == 1


def test_arguments_must_be_json_values(runner: Runner, log: str) -> None:
    with pytest.raises(QueueError, match="JSON"):
        runner.queue.enqueue(queue_jobs.record, log, object())


def test_only_module_level_functions_are_jobs(runner: Runner, log: str) -> None:
    def local_function() -> None:
        pass

    with pytest.raises(QueueError, match="importable"):
        runner.queue.enqueue(local_function)
    with pytest.raises(QueueError, match="importable"):
        runner.queue.enqueue(lambda: None)


@pytest.mark.parametrize("job_id", ["", "has space", "../etc", "x" * 200])
def test_odd_job_ids_are_refused(runner: Runner, log: str, job_id: str) -> None:
    with pytest.raises(QueueError, match="job id"):
        runner.queue.enqueue(queue_jobs.record, log, "x", job_id=job_id)


def test_stats_count_waiting_jobs(runner: Runner, log: str) -> None:
    runner.queue.enqueue(queue_jobs.record, log, "a")
    runner.queue.enqueue(queue_jobs.record, log, "b", queue="low")
    stats = runner.queue.stats()
    assert stats.queued == 2
    assert stats.running == 0
    assert stats.failed == 0


def test_one_caller_claims_each_slot_of_a_periodic_pass(runner: Runner) -> None:
    queue = runner.queue
    assert queue.claim_slot("reconcile", 7, 60)
    assert not queue.claim_slot("reconcile", 7, 60)  # another process, the same slot: not again
    assert queue.claim_slot("reconcile", 8, 60)
    assert queue.claim_slot("purge-trash", 7, 60)


def test_a_worker_that_stops_saying_it_is_alive_is_dead_and_released_once(redis_conn: Redis) -> None:
    queue = RQQueue(redis_conn, QUEUES)
    other = RQQueue(redis_conn, ("elsewhere",))  # workers of other queues are not watched by these
    queue.register_alive("w-1", ttl=1)
    queue.register_alive("w-2", ttl=60)
    other.register_alive("w-3", ttl=1)
    assert queue.dead_workers() == []
    wait_for(lambda: queue.dead_workers() == ["w-1"], timeout=5)
    assert queue.release_dead_worker("w-1") == []  # never registered with RQ: nothing was running
    assert queue.release_dead_worker("w-1") == []
    assert queue.dead_workers() == []
    queue.unregister_alive("w-2")
    assert queue.dead_workers() == []
    wait_for(lambda: other.dead_workers() == ["w-3"], timeout=5)  # its own watchers see it
    assert other.release_dead_worker("w-3") == []


def test_capacity_counts_the_workers_of_these_queues_only(redis_conn: Redis, tmp_path: Path) -> None:
    """What the fair queue hands out by default: one slot per RQ worker on the studio's queues (a worker of
    another installation on the same Redis does not count), or the job threads in embedded mode."""
    ours = RQQueue(redis_conn, ("capacity-high", "capacity-default"))
    assert ours.capacity() == 0
    first = SimpleWorker(["capacity-high", "capacity-default"], connection=redis_conn)
    second = SimpleWorker(["capacity-default"], connection=redis_conn)
    elsewhere = SimpleWorker(["someone-else"], connection=redis_conn)
    for worker in (first, second, elsewhere):
        worker.register_birth()  # type: ignore[no-untyped-call]
    try:
        assert ours.capacity() == 2
    finally:
        for worker in (first, second, elsewhere):
            worker.register_death()  # type: ignore[no-untyped-call]
    assert ours.capacity() == 0
    local = InProcessQueue(tmp_path / "jobs", workers=3)
    assert local.capacity() == 3
    local.start()
    try:
        assert local.capacity() == 3
    finally:
        local.stop()
