"""Job queues: RQ on Redis in production, threads in the app process in embedded mode.

Both run the same job functions: importable module-level functions that take ids (JSON values), never
objects, named by their dotted path (services name them as strings: `studio.services.dispatch`). A job id
given to `enqueue` is accepted once while that job is queued, scheduled or running.

The in-process runner writes each job to a file under its state directory before it runs and removes the
file when it has run, so jobs outlive the browser session that asked for them, and a restart re-dispatches
whatever was still pending (at least once; job functions are idempotent).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker, worker_registration
from rq.exceptions import DuplicateJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.registry import BaseRegistry, StartedJobRegistry
from rq.utils import as_text

from studio.errors import QueueError

log = logging.getLogger(__name__)

JobFunction = Callable[..., object]
#: A job function's dotted path ("studio.jobs.run_generation"), or the function itself.
Job = str | JobFunction
DEFAULT_QUEUE = "default"
_SLOTS = "studio:slot:"
_WATCHED = "studio:workers:"  # + the queues its workers serve: they watch each other
_ALIVE = "studio:alive:"
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


@dataclass(frozen=True)
class QueueStats:
    queued: int
    scheduled: int
    running: int
    failed: int
    workers: int


@dataclass(frozen=True)
class WorkerState:
    """One worker (an RQ worker process, or a job thread of the app) as the admin queue page shows it."""

    name: str
    state: str  # idle, busy, ...
    queues: tuple[str, ...]
    current_job: str | None
    last_heartbeat: datetime | None


class JobQueue(Protocol):
    """Where services put work that must not run in a page."""

    backend: str

    def enqueue(
        self,
        func: Job,
        *args: Any,
        job_id: str | None = None,
        queue: str = DEFAULT_QUEUE,
        delay: timedelta | None = None,
    ) -> str: ...

    def check(self) -> None: ...

    def stats(self) -> QueueStats: ...

    def workers(self) -> list[WorkerState]: ...

    def capacity(self) -> int: ...

    def lengths(self) -> dict[str, int]: ...

    def claim_slot(self, name: str, slot: int, ttl: float) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def function_path(func: Job) -> str:
    """The dotted path a worker imports the job function from."""
    if isinstance(func, str):
        if not _DOTTED.match(func):
            raise QueueError(f"{func!r} is not the dotted path of a module-level function")
        return func
    qualname = getattr(func, "__qualname__", "")
    if "<" in qualname or "." in qualname or not getattr(func, "__module__", None):
        raise QueueError(f"{func!r} is not an importable module-level function")
    return f"{func.__module__}.{qualname}"


def resolve_function(path: str) -> JobFunction:
    module, _, name = path.rpartition(".")
    func: JobFunction = getattr(import_module(module), name)
    return func


def check_job(func: Job, args: tuple[Any, ...], job_id: str | None, queue: str) -> str:
    """The job's dotted path, once its id, arguments and queue are acceptable (QueueError otherwise)."""
    if job_id is not None and not _JOB_ID.match(job_id):
        raise QueueError(f"invalid job id {job_id!r}")
    try:
        json.dumps(args)
    except (TypeError, ValueError) as err:
        raise QueueError(f"job arguments must be ids or other JSON values, not {args!r}") from err
    if not queue:
        raise QueueError("a job needs a queue name")
    return function_path(func)


def _registry_count(registry: BaseRegistry) -> int:
    return registry.count


@dataclass(frozen=True)
class Abandoned:
    """A job a dead worker was running: its function's dotted path and arguments, to run again."""

    job_id: str
    func: str
    args: tuple[Any, ...]
    queue: str


# --- RQ -------------------------------------------------------------------------------------------------


class RQQueue:
    """RQ on Redis; `worker.py` runs the workers (with the scheduler, for delayed jobs)."""

    backend = "rq"

    def __init__(self, connection: Redis, queue_names: tuple[str, ...], job_timeout: int = 900) -> None:
        self.redis = connection
        self.queue_names = queue_names
        self.job_timeout = job_timeout
        self._watched = _WATCHED + ",".join(queue_names)

    @classmethod
    def from_url(cls, url: str, queue_names: tuple[str, ...]) -> RQQueue:
        # Short socket timeouts on the app side: a page or /healthz must never hang on Redis.
        connection = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5, health_check_interval=30)
        return cls(connection, queue_names)

    def _queue(self, name: str) -> Queue:
        return Queue(name, connection=self.redis, default_timeout=self.job_timeout)

    def enqueue(
        self,
        func: Job,
        *args: Any,
        job_id: str | None = None,
        queue: str = DEFAULT_QUEUE,
        delay: timedelta | None = None,
    ) -> str:
        path = check_job(func, args, job_id, queue)
        rq_queue = self._queue(queue)
        unique = job_id is not None
        try:
            if delay is None:
                job = rq_queue.enqueue(
                    path,
                    *args,
                    job_id=job_id,
                    unique=unique,
                    result_ttl=600,
                    failure_ttl=7 * 86400,
                    description=path,  # workers log the description: never the arguments (a mail's link)
                )
            else:
                job = rq_queue.create_job(
                    path,
                    args=args,
                    job_id=job_id,
                    description=path,
                    status=JobStatus.SCHEDULED,
                    result_ttl=600,
                    failure_ttl=7 * 86400,
                )
                rq_queue.schedule_job(job, datetime.now(UTC) + delay, unique=unique)
        except DuplicateJobError:
            assert job_id is not None
            return job_id
        except RedisError as err:
            raise QueueError(f"could not enqueue {path}: {err}") from err
        return str(job.id)

    def check(self) -> None:
        try:
            self.redis.ping()
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    def stats(self) -> QueueStats:
        try:
            queues = [self._queue(name) for name in self.queue_names]
            return QueueStats(
                queued=sum(q.count for q in queues),
                scheduled=sum(_registry_count(q.scheduled_job_registry) for q in queues),
                running=sum(_registry_count(q.started_job_registry) for q in queues),
                failed=sum(_registry_count(q.failed_job_registry) for q in queues),
                workers=Worker.count(connection=self.redis),
            )
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    def workers(self) -> list[WorkerState]:
        try:
            return [
                WorkerState(
                    name=worker.name,
                    state=str(worker.get_state()),
                    queues=tuple(worker.queue_names()),
                    current_job=worker.get_current_job_id(),
                    last_heartbeat=worker.last_heartbeat.replace(tzinfo=UTC)
                    if worker.last_heartbeat
                    else None,
                )
                for worker in Worker.all(connection=self.redis)
            ]
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    def capacity(self) -> int:
        """How many jobs run at once: the workers registered on these queues (one job each)."""
        try:
            keys: set[str] = set()
            for name in self.queue_names:
                keys |= worker_registration.get_keys(queue=self._queue(name))
            return len(keys)
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    def lengths(self) -> dict[str, int]:
        """Jobs waiting in each queue."""
        try:
            return {name: self._queue(name).count for name in self.queue_names}
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    def claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        """True for the one caller, across every process on this Redis, that first claims `slot` of `name`
        (a periodic pass's time slot); the claim is forgotten after `ttl` seconds."""
        try:
            return bool(
                self.redis.set(
                    f"{_SLOTS}{','.join(self.queue_names)}:{name}:{slot}",
                    "1",
                    nx=True,
                    ex=max(1, math.ceil(ttl)),
                )
            )
        except RedisError as err:
            raise QueueError(f"Redis is not reachable: {err}") from err

    # workers that say they are alive (every `worker.py` process, see studio.duties)

    def register_alive(self, worker_name: str, ttl: float) -> None:
        """This worker is alive for the next `ttl` seconds (called again well before they pass)."""
        with self.redis.pipeline() as pipe:
            pipe.sadd(self._watched, worker_name)
            pipe.set(f"{_ALIVE}{worker_name}", "1", ex=max(1, math.ceil(ttl)))
            pipe.execute()

    def unregister_alive(self, worker_name: str) -> None:
        """A worker stopping cleanly: nothing of it is left to clean up."""
        with self.redis.pipeline() as pipe:
            pipe.srem(self._watched, worker_name)
            pipe.delete(f"{_ALIVE}{worker_name}")
            pipe.execute()

    def dead_workers(self) -> list[str]:
        """Watched workers that stopped saying they are alive (killed, or their host lost)."""
        names = sorted(as_text(name) for name in self.redis.smembers(self._watched))
        with self.redis.pipeline() as pipe:
            for name in names:
                pipe.exists(f"{_ALIVE}{name}")
            alive = pipe.execute()
        return [name for name, present in zip(names, alive, strict=True) if not present]

    def release_dead_worker(self, worker_name: str) -> list[Abandoned]:
        """Clean up after a dead worker at once, as RQ's own maintenance would only minutes later: its
        running job leaves the started registry for the failed one (RQ's AbandonedJobError path) and the
        worker leaves RQ's registry. Returns that job, to run again; [] when another process got here
        first (only one caller ever gets a dead worker's job)."""
        if not self.redis.srem(self._watched, worker_name):
            return []
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=self.redis)
        if worker is None:
            return []
        abandoned = []
        job_id = worker.get_current_job_id()
        found = bool(job_id) and RQJob.exists(str(job_id), self.redis)
        job = RQJob.fetch(str(job_id), connection=self.redis) if found else None
        if job is not None:
            registry = StartedJobRegistry(job.origin, connection=self.redis)
            entries: list[bytes] = self.redis.zrange(registry.key, 0, -1)  # type: ignore[assignment]
            for entry in entries:  # "{job id}:{execution id}"
                if as_text(entry).rpartition(":")[0] == job.id:
                    self.redis.zadd(registry.key, {entry: 1}, xx=True)  # expired: the next cleanup takes it
            registry.cleanup()
            abandoned.append(Abandoned(job.id, job.func_name or "", tuple(job.args), job.origin))
        worker.register_death()  # type: ignore[no-untyped-call]
        return abandoned

    def start(self) -> None:
        """Nothing to start in the app: workers are separate processes (`worker.py`)."""

    def stop(self) -> None:
        self.redis.close()


# --- in-process -----------------------------------------------------------------------------------------


@dataclass(order=True)
class _Ready:
    priority: int
    seq: int
    job_id: str


class InProcessQueue:
    """Worker threads in the app process, with every pending job kept on disk until it has run."""

    backend = "in-process"

    def __init__(self, state_dir: Path, *, workers: int = 4, queue_names: tuple[str, ...] = (DEFAULT_QUEUE,)):
        self._pending_dir = state_dir / "pending"
        self._failed_dir = state_dir / "failed"
        self._workers = workers
        self._priority = {name: index for index, name in enumerate(queue_names)}
        self._cond = threading.Condition()
        self._scheduled: list[tuple[float, int, str]] = []  # (due, seq, job id)
        self._ready: list[_Ready] = []
        self._records: dict[str, dict[str, Any]] = {}  # queued, scheduled or running
        self._running: set[str] = set()
        self._doing: dict[str, str] = {}  # thread name -> the job id it runs
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._slots: dict[tuple[str, int], float] = {}  # claimed slots of periodic passes -> until
        self._stopping = False

    # lifecycle

    def start(self) -> None:
        """Start the worker threads and re-dispatch every job a previous run left pending."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._pending_dir.mkdir(parents=True, exist_ok=True)
            self._failed_dir.mkdir(parents=True, exist_ok=True)
            for path in sorted(self._pending_dir.glob("*.json")):
                if path.stem in self._records:  # enqueued in this process before start()
                    continue
                try:
                    record = json.loads(path.read_text())
                except (OSError, ValueError):
                    log.exception("unreadable pending job %s; moved to failed", path.name)
                    path.replace(self._failed_dir / path.name)
                    continue
                log.info(
                    "re-dispatching job %s (%s) left pending by a previous run", record["id"], record["func"]
                )
                self._schedule(record)
            self._threads = [
                threading.Thread(target=self._work, name=f"studio-job-{n}", daemon=True)
                for n in range(self._workers)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; running ones finish (or stay pending on disk if the process exits first)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # the queue

    def enqueue(
        self,
        func: Job,
        *args: Any,
        job_id: str | None = None,
        queue: str = DEFAULT_QUEUE,
        delay: timedelta | None = None,
    ) -> str:
        path = check_job(func, args, job_id, queue)
        job_id = job_id or uuid.uuid4().hex
        due = time.time() + (delay.total_seconds() if delay else 0.0)
        record = {"id": job_id, "func": path, "args": list(args), "queue": queue, "due": due}
        with self._cond:
            if job_id in self._records:
                return job_id
            try:
                _write_json(self._pending_dir / f"{job_id}.json", record)
            except OSError as err:
                raise QueueError(f"could not persist job {job_id}: {err}") from err
            self._schedule(record)
            self._cond.notify()
        return job_id

    def claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        """True for the first caller of `slot` of `name` (one process: the claims live in memory)."""
        with self._cond:
            now = time.monotonic()
            self._slots = {key: until for key, until in self._slots.items() if until > now}
            if (name, slot) in self._slots:
                return False
            self._slots[(name, slot)] = now + ttl
            return True

    def check(self) -> None:
        with self._cond:
            alive = [thread for thread in self._threads if thread.is_alive()]
        if not alive:
            raise QueueError("the in-process job runner is not running")

    def stats(self) -> QueueStats:
        with self._cond:
            self._promote_due(time.time())
            return QueueStats(
                queued=len(self._ready),
                scheduled=len(self._scheduled),
                running=len(self._running),
                failed=sum(1 for _ in self._failed_dir.glob("*.json")) if self._failed_dir.exists() else 0,
                workers=sum(1 for thread in self._threads if thread.is_alive()),
            )

    def capacity(self) -> int:
        """How many jobs run at once: the job threads (before they start, the ones it will start)."""
        with self._cond:
            alive = sum(1 for thread in self._threads if thread.is_alive())
        return alive or self._workers

    def workers(self) -> list[WorkerState]:
        """The job threads: alive or not, and the job each one runs (threads have no heartbeat)."""
        with self._cond:
            return [
                WorkerState(
                    name=thread.name,
                    state=("busy" if thread.name in self._doing else "idle") if thread.is_alive() else "dead",
                    queues=tuple(self._priority),
                    current_job=self._doing.get(thread.name),
                    last_heartbeat=None,
                )
                for thread in self._threads
            ]

    def lengths(self) -> dict[str, int]:
        """Jobs ready to run, per queue (delayed ones not yet due are not counted)."""
        with self._cond:
            self._promote_due(time.time())
            counts = dict.fromkeys(self._priority, 0)
            for ready in self._ready:
                queue = self._records[ready.job_id]["queue"]
                counts[queue] = counts.get(queue, 0) + 1
            return counts

    # internals (called with the condition held unless noted)

    def _schedule(self, record: dict[str, Any]) -> None:
        self._records[record["id"]] = record
        heapq.heappush(self._scheduled, (float(record["due"]), next(self._seq), record["id"]))

    def _promote_due(self, now: float) -> None:
        while self._scheduled and self._scheduled[0][0] <= now:
            _, seq, job_id = heapq.heappop(self._scheduled)
            priority = self._priority.get(self._records[job_id]["queue"], len(self._priority))
            heapq.heappush(self._ready, _Ready(priority, seq, job_id))

    def _next(self) -> dict[str, Any] | None:
        with self._cond:
            while not self._stopping:
                self._promote_due(time.time())
                if self._ready:
                    job_id = heapq.heappop(self._ready).job_id
                    self._running.add(job_id)
                    self._doing[threading.current_thread().name] = job_id
                    return self._records[job_id]
                wait = self._scheduled[0][0] - time.time() if self._scheduled else None
                self._cond.wait(wait)
            return None

    def _work(self) -> None:  # runs on a worker thread, without the condition
        while (record := self._next()) is not None:
            try:
                resolve_function(record["func"])(*record["args"])
            except Exception:
                log.exception("job %s (%s) failed", record["id"], record["func"])
                failed = record | {"error": traceback.format_exc(), "failed_at": time.time()}
                try:
                    _write_json(self._failed_dir / f"{record['id']}.json", failed)
                except OSError:
                    log.exception("could not record the failure of job %s", record["id"])
            finally:
                (self._pending_dir / f"{record['id']}.json").unlink(missing_ok=True)
                with self._cond:
                    self._running.discard(record["id"])
                    self._doing.pop(threading.current_thread().name, None)
                    self._records.pop(record["id"], None)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
