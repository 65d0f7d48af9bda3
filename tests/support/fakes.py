"""In-memory fakes of the studio's ports, for fast service tests. The contract tests run them too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from studio.adapters.mail import Email, build_message
from studio.adapters.queue import (
    DEFAULT_QUEUE,
    Job,
    QueueStats,
    WorkerState,
    check_job,
    resolve_function,
)
from studio.adapters.storage import CHUNK_SIZE, check_key
from studio.errors import NotFound

# --- storage --------------------------------------------------------------------------------------------


@dataclass
class FakeStorage:
    backend: str = "fake"
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        self.objects[check_key(key)] = (data if isinstance(data, bytes) else data.read(), content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.objects[check_key(key)][0]
        except KeyError:
            raise NotFound(f"no object {key}") from None

    def stream(self, key: str) -> Iterator[bytes]:
        data = self.get(key)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    def exists(self, key: str) -> bool:
        return check_key(key) in self.objects

    def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)

    def url(self, key: str, expires_in: int, download_name: str | None = None) -> str:
        expires = int(self.clock()) + expires_in
        suffix = f"&name={download_name}" if download_name else ""
        return f"https://storage.invalid/{check_key(key)}?expires={expires}{suffix}"

    def fetch(self, url: str) -> tuple[int, bytes, dict[str, str]]:
        """What a browser would get for one of this fake's URLs."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        key = parts.path.lstrip("/")
        if int(query["expires"][0]) < self.clock() or key not in self.objects:
            return 404, b"", {}
        data, content_type = self.objects[key]
        headers = {"content-type": content_type}
        if "name" in query:
            headers["content-disposition"] = f'attachment; filename="{query["name"][0]}"'
        return 200, data, headers

    def check(self) -> None:
        pass


# --- queue ----------------------------------------------------------------------------------------------


@dataclass
class FakeQueue:
    """Records jobs; `run_all()` runs the due ones in this thread, in priority order."""

    queue_names: tuple[str, ...] = ("high", DEFAULT_QUEUE, "low")
    backend: str = "fake"
    jobs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    slots: set[tuple[str, int]] = field(default_factory=set)

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
        if not any(job["id"] == job_id for job in self.jobs):
            due = time.time() + (delay.total_seconds() if delay else 0)
            self.jobs.append({"id": job_id, "func": path, "args": args, "queue": queue, "due": due})
        return job_id

    def run_all(self) -> None:
        due = [job for job in self.jobs if job["due"] <= time.time()]
        due.sort(key=lambda job: self.queue_names.index(job["queue"]))
        for job in due:
            self.jobs.remove(job)
            try:
                resolve_function(job["func"])(*job["args"])
            except Exception as err:
                self.failed.append(job | {"error": repr(err)})

    def claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        claimed = (name, slot) not in self.slots
        self.slots.add((name, slot))
        return claimed

    def check(self) -> None:
        pass

    def stats(self) -> QueueStats:
        now = time.time()
        queued = sum(1 for job in self.jobs if job["due"] <= now)
        return QueueStats(queued, len(self.jobs) - queued, 0, len(self.failed), 0)

    def workers(self) -> list[WorkerState]:
        return []

    def capacity(self) -> int:
        return 8  # as if eight workers ran (`run_all` runs what is queued)

    def lengths(self) -> dict[str, int]:
        return {name: sum(1 for job in self.jobs if job["queue"] == name) for name in self.queue_names}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


# --- mail -----------------------------------------------------------------------------------------------


@dataclass
class FakeMailer:
    backend: str = "fake"
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        build_message(email, "studio@example.org")  # the same validation as the real mailers
        self.sent.append(email)
