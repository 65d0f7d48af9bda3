"""The duties of every job-running process: the periodic passes, and taking over the jobs of dead workers.

Every `worker.py` process runs them on two threads of its own beside RQ (the app runs the passes in embedded
mode, where it runs the jobs), so they never depend on one scheduled chain that a crash can break, nor on
RQ's scheduler (whose lock a killed worker holds for a minute, and which a restarted worker only retries
at its ten-minute maintenance):

- **Passes.** Each second, a pass whose time slot has begun (each second for the fair queue, one per
  RECONCILE_INTERVAL_SECONDS for the reconciler, hourly or daily for the others) runs in whichever process
  claims the slot first. The fair queue and the reconciler run right here, so a backlog in the queues
  never delays them; the slower passes are queued.
- **Dead workers.** Each worker process says every second that it is alive (for ALIVE_SECONDS). A worker
  that stopped saying so is dead: its RQ registries are cleaned up at once, its generation job's next
  attempt is queued ahead of new work (it re-attaches to the provider request), and any other job it was
  running is queued again, once. A job a worker died on twice stays failed in RQ's failed registry.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from studio.adapters.queue import Abandoned, RQQueue
from studio.services import dispatch
from studio.services.context import Services
from studio.services.generation import fair, reconciler

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
ALIVE_SECONDS = 10.0
AGAIN = "-again"


@dataclass(frozen=True)
class Pass:
    name: str
    interval: float
    job: str | None = None  # the job function queued for it, by dotted name; None: run in this thread


def _reconcile(services: Services) -> None:
    outcome = reconciler.reconcile(services)
    if outcome.redispatched or outcome.failed:
        log.info("reconciler: %d dispatched again, %d failed", len(outcome.redispatched), len(outcome.failed))


#: The passes that run in the duty thread itself, by name.
HERE: dict[str, Callable[[Services], object]] = {"dispatch": fair.periodic, "reconcile": _reconcile}


def passes(services: Services) -> tuple[Pass, ...]:
    return (
        Pass("dispatch", TICK_SECONDS),
        Pass("reconcile", services.settings.reconcile_interval_seconds),
        Pass("renew-plans", dispatch.RENEW_INTERVAL_SECONDS, dispatch.RENEW_PLANS),
        Pass("purge-trash", dispatch.TRASH_INTERVAL_SECONDS, dispatch.PURGE_TRASH),
        Pass("roll-up-analytics", dispatch.ROLL_UP_INTERVAL_SECONDS, dispatch.ROLL_UP_ANALYTICS),
    )


class Duties:
    """The duty threads of one process. `worker_name`: this process is that RQ worker (it says it is
    alive, and takes over the jobs of dead workers); None in the app of embedded mode (passes only)."""

    def __init__(self, services: Services, worker_name: str | None = None) -> None:
        self.services = services
        self.worker_name = worker_name
        self.passes = passes(services)
        self._slots: dict[str, int] = {}  # pass name -> the last slot this process ran or saw claimed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def rq(self) -> RQQueue | None:
        queue = self.services.queue
        return queue if self.worker_name and isinstance(queue, RQQueue) else None

    def start(self) -> None:
        if self.rq is not None and self.worker_name:
            self.rq.register_alive(self.worker_name, ALIVE_SECONDS)  # before RQ lists it: never seen dead
            self._threads.append(threading.Thread(target=self._alive, name="studio-alive", daemon=True))
        self._threads.append(threading.Thread(target=self._duties, name="studio-duties", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        if self.rq is not None and self.worker_name:
            self.rq.unregister_alive(self.worker_name)

    # the threads

    def _alive(self) -> None:
        assert self.rq is not None
        assert self.worker_name
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.rq.register_alive(self.worker_name, ALIVE_SECONDS)
            except Exception:
                log.exception("could not say worker %s is alive", self.worker_name)

    def _duties(self) -> None:
        while True:
            self.tick()
            if self._stop.wait(TICK_SECONDS):
                return

    def tick(self) -> None:
        """One round: the dead workers' jobs taken over, then every pass that is due. Never raises."""
        if self.rq is not None:
            try:
                self.take_over_dead_workers(self.rq)
            except Exception:
                log.exception("could not take over the jobs of dead workers")
        now = time.time()
        for due in self.passes:
            slot = int(now // due.interval)
            if self._slots.get(due.name) == slot:
                continue
            try:
                if self.services.queue.claim_slot(due.name, slot, due.interval):
                    self.run(due, slot)
                self._slots[due.name] = slot
            except Exception:
                log.exception("the %s pass failed", due.name)

    # the work

    def run(self, due: Pass, slot: int) -> None:
        if due.job is None:
            HERE[due.name](self.services)
        else:
            job_id = f"{due.name}-{slot}"
            dispatch.enqueue(self.services, due.job, priority=dispatch.BACKGROUND, job_id=job_id)

    def take_over_dead_workers(self, rq: RQQueue) -> None:
        for name in rq.dead_workers():
            for job in rq.release_dead_worker(name):
                log.warning("worker %s died running %s (%s); taking it over", name, job.job_id, job.func)
                self.take_over(job)

    def take_over(self, job: Abandoned) -> None:
        if job.func == dispatch.RUN_GENERATION:
            reconciler.take_over(self.services, uuid.UUID(str(job.args[0])), attempt=int(job.args[1]))
        elif job.func in {due.job for due in self.passes}:
            return  # its next slot runs it
        elif job.job_id.endswith(AGAIN):
            log.error("job %s killed its worker twice; it stays failed", job.job_id)
        else:
            dispatch.rerun(self.services, job.func, job.args, queue=job.queue, job_id=job.job_id + AGAIN)
