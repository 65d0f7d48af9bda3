"""RQ workers for the studio, on the same settings as the app.

    python worker.py                 one worker, with RQ's scheduler (delayed jobs)
    python worker.py --workers 8     a pool of eight worker processes
    python worker.py --burst         run what is queued, then exit
    python worker.py --check         exit 0 when a worker on this host is alive (container healthcheck)

Jobs run in the worker process itself (RQ's SimpleWorker), not in a work-horse forked per job: generation
jobs mostly wait on the provider, and a fork per job re-imports fal-client and Pillow and reconnects to the
database and fal every time (about 190 ms and 0.3 CPU-seconds per job, measured in bench/). A worker that
crashes mid-job is restarted by the pool (or the container).

Every worker process also runs the studio's duties (`studio.duties`): it says each second that it is
alive, takes over the jobs of workers that stopped saying so (a generation job re-attaches to its provider
request), and runs the periodic passes, the reconciler among them. So recovery never waits on RQ's
scheduler or its ten-minute maintenance.

Embedded mode needs no worker: jobs run on threads inside the app. This exits with a message when
REDIS_URL is not set.
"""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import SimpleWorker, Worker
from rq.worker_pool import WorkerPool

from studio import bootstrap, startup
from studio.duties import Duties
from studio.settings import load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the studio's RQ workers.")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--check", action="store_true", help="exit 0 if a worker on this host is alive")
    return parser.parse_args(argv)


def alive_on_this_host(connection: Redis, within: timedelta = timedelta(minutes=2)) -> bool:
    """Is an RQ worker of this host registered and heartbeating?"""
    host, now = socket.gethostname(), datetime.now(UTC)
    for worker in Worker.all(connection=connection):
        beat = worker.last_heartbeat
        if worker.hostname == host and beat is not None and now - beat.replace(tzinfo=UTC) < within:
            return True
    return False


class StudioWorker(SimpleWorker):
    """RQ's SimpleWorker with the studio's duties beside it, for as long as it works."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        duties = Duties(bootstrap.services(), worker_name=self.name)
        duties.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            duties.stop()


def preload() -> None:
    """Import what every generation job needs once, before the pool starts its worker processes."""
    import fal_client  # noqa: F401  (reads FAL_RUN_HOST / FAL_QUEUE_RUN_HOST from this environment)
    from PIL import Image

    import studio.adapters.fal
    import studio.jobs
    import studio.services.generation.pipeline  # noqa: F401

    Image.init()  # every Pillow plugin, so the first WebP thumbnail does not load them


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = bootstrap.or_exit(load)
    if not settings.redis_url:
        print(  # noqa: T201 (the operator reads this on the console)
            "worker.py needs REDIS_URL (for example redis://localhost:6379/0).\n"
            "Without it the studio runs in embedded mode, where jobs run inside the app: use `make run`.",
            file=sys.stderr,
        )
        return 2
    if args.check:
        connection = Redis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=5)
        return 0 if alive_on_this_host(connection) else 1
    services = bootstrap.or_exit(startup.start)
    preload()
    # The pool forks its worker processes from this one: none may inherit a pooled database connection.
    services.database.dispose()
    # No socket timeout here: workers block on Redis for new jobs far longer than a page would wait.
    connection = Redis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=5)
    queues = list(settings.queue_names)
    if args.workers > 1:
        WorkerPool(queues, connection=connection, num_workers=args.workers, worker_class=StudioWorker).start(
            burst=args.burst, logging_level=settings.log_level
        )
    else:
        StudioWorker(queues, connection=connection).work(
            with_scheduler=True, burst=args.burst, logging_level=settings.log_level
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
