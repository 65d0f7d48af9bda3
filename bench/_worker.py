"""Diagnostic worker for the benchmarks: `worker.py` with two optional instruments.

    BENCH_FORK=1        RQ's forking Worker instead of worker.py's SimpleWorker: a work-horse forked per job
                        (the modules are still preloaded; the database and fal connections are not kept)
    BENCH_TRACE=<file>  append one JSON line per step of each job run (what it is, when, how long), timed
                        inside the work-horse: the imports the job does, the database transactions, each
                        fal call, the thumbnail and each S3 put

`overhead.py` and `throughput.py` run this instead of `worker.py` when given --fork or --trace.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import studio.jobs
import worker
from studio import bootstrap

_TRACE = os.environ.get("BENCH_TRACE")
_job: list[str] = [""]


def _record(step: str, start: float, seconds: float) -> None:
    assert _TRACE is not None
    line = json.dumps({"job": _job[0], "step": step, "at": start, "ms": seconds * 1000, "pid": os.getpid()})
    with open(_TRACE, "a") as handle:  # noqa: PTH123
        handle.write(line + "\n")


def _timed(step: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, t = time.time(), time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _record(step, start, time.perf_counter() - t)

    return wrapper


def _instrument() -> None:
    from studio.adapters.fal import FalProvider
    from studio.adapters.storage import S3Storage
    from studio.services.generation import pipeline

    for name in ("claim", "store_request_id", "report", "store_result", "_download", "_complete", "_wait"):
        setattr(pipeline.JobRun, name, _timed(f"JobRun.{name}", getattr(pipeline.JobRun, name)))
    for name in ("submit", "status", "result", "download", "close"):
        setattr(FalProvider, name, _timed(f"fal.{name}", getattr(FalProvider, name)))
    S3Storage.put = _timed("S3Storage.put", S3Storage.put)  # type: ignore[method-assign]
    from studio.services.generation import outputs

    # pipeline calls it by the name it imported: patch that name
    setattr(pipeline, "inspect", _timed("outputs.inspect (decode + thumbnail)", outputs.inspect))  # noqa: B010


_instrumented = [False]


def _traced_run_generation(job_id: str, attempt: int) -> None:
    _job[0] = job_id
    entered = time.time()
    _record("entered run_generation (horse)", entered, 0.0)
    t = time.perf_counter()
    from studio.services.generation import pipeline  # noqa: F401

    _record("import studio.services.generation.pipeline", entered, time.perf_counter() - t)
    t1 = time.perf_counter()
    import fal_client  # noqa: F401

    import studio.adapters.fal  # noqa: F401

    _record("import studio.adapters.fal + fal_client", entered, time.perf_counter() - t1)
    if not _instrumented[0]:
        _instrument()
        _instrumented[0] = True
    from studio.services.generation.pipeline import JobRun

    run = _timed("JobRun.run (total)", JobRun.run)
    run(JobRun(bootstrap.services(), uuid.UUID(job_id), attempt))


if os.environ.get("BENCH_FORK"):
    from rq import Worker
    from rq.worker_pool import WorkerPool

    setattr(worker, "SimpleWorker", Worker)  # noqa: B010 (worker.main() looks these names up)
    setattr(worker, "WorkerPool", functools.partial(WorkerPool, worker_class=Worker))  # noqa: B010

if _TRACE:
    studio.jobs.run_generation = _traced_run_generation  # the horse looks it up on this module

if __name__ == "__main__":
    sys.exit(worker.main())
