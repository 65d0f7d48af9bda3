"""The real stack for the benchmarks: a scratch PostgreSQL database, Redis db 15, moto, the fake fal
server, the studio's services in this process and `python worker.py` subprocesses.

Everything listens on loopback only and is torn down at the end (database dropped, Redis db flushed,
processes this module started stopped by their own ids).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import sqlalchemy as sa
from redis import Redis
from rq import Worker
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from studio import bootstrap, startup
from studio.adapters.db.models import Plan, Subscription, User, utcnow
from studio.adapters.storage import S3Storage
from studio.domain.credits import LedgerKind
from studio.domain.parameters import Request
from studio.services.billing import ledger, plans
from studio.services.context import Services
from studio.services.generation.submissions import quote
from studio.settings import Settings
from tests.support.databases import scratch_database
from tests.support.fal_server import FakeFal, _Job, reserve_socket

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
REDIS_LOCK = "studio-tests:lock"  # the test suite's claim key: while we hold db 15, test runs skip it
FAL_KEY = "test-key:test-secret"
ENDPOINT = "fal-ai/flux/dev"
PROMPT = "a lighthouse on a cliff at dusk, volumetric light"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the fake fal, with the arrival time of each result and file request --------------------------------


class TimedFal(FakeFal):
    """FakeFal recording when (wall clock) each request's result JSON and first file were asked for."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.result_at: dict[str, float] = {}
        self.file_at: dict[str, float] = {}
        # Submitted.at is time.monotonic(): this converts it to the wall clock the database uses.
        self.mono_offset = time.time() - time.monotonic()

    async def _result_response(self, job: _Job) -> Response:
        self.result_at.setdefault(job.request_id, time.time())
        return await super()._result_response(job)

    async def _file(self, request: HttpRequest) -> Response:
        self.file_at.setdefault(str(request.path_params.get("request_id")), time.time())
        return await super()._file(request)

    def submit_wall(self) -> dict[str, float]:
        return {s.request_id: s.at + self.mono_offset for s in self.submits if s.request_id}


# --- CPU accounting: how busy the machine was, and who used it --------------------------------------


def _proc_stat() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs."""
    with Path("/proc/stat").open() as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return float(sum(fields) - idle), float(sum(fields))


def _processes() -> dict[int, tuple[str, int, float, float]]:
    """pid -> (command, parent pid, own CPU jiffies, CPU jiffies of its reaped children)."""
    found: dict[int, tuple[str, int, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        # fields after comm: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        own = float(int(rest[11]) + int(rest[12]))
        found[int(entry.name)] = (comm, int(rest[1]), own, float(int(rest[13]) + int(rest[14])))
    return found


class CpuMonitor:
    """Machine-wide CPU use over a window, split into this benchmark's processes (this one: the fake fal
    and the submitting/polling client; moto; the RQ workers with their work-horses), the PostgreSQL
    backends of the benchmark's database, Redis, and everything else (other people's tests)."""

    #: The labels (of `_label`) counted as this benchmark's own, in the order reported.
    OURS: tuple[str, ...] = (
        "bench process (fake fal + client)",
        "RQ workers + work-horses",
        "moto",
        "postgres (bench db)",
        "redis",
    )

    def __init__(self, database: str | None = None) -> None:
        self.hz = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1
        self.database = database
        self.t0 = time.monotonic()
        self.stat0 = _proc_stat()
        self.procs0 = _processes()
        self.load0 = os.getloadavg()
        self.used: dict[str, float] = {}

    def _label(self, pid: int, comm: str, top: dict[int, int]) -> str:
        if pid == os.getpid():
            return "bench process (fake fal + client)"
        if pid in top:
            try:
                cmdline = Path(f"/proc/{top[pid]}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmdline = ""
            return "moto" if "moto_server" in cmdline else "RQ workers + work-horses"
        if comm.startswith("postgres"):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                cmdline = ""
            ours = self.database is not None and f" {self.database} " in cmdline
            return "postgres (bench db)" if ours else "postgres (other dbs)"
        return "redis" if comm.startswith("redis") else comm

    def report(self) -> str:
        """The machine's load over the window, and each part's CPU seconds (kept in `used`)."""
        self.used = self._used()
        return self._text(self.used)

    def _used(self) -> dict[str, float]:
        """CPU seconds by label since the monitor started."""
        procs1 = _processes()
        me = os.getpid()
        top: dict[int, int] = {}  # descendant pid -> the child of this process it descends from
        changed = True
        while changed:
            changed = False
            for pid, (_, ppid, _, _) in procs1.items():
                if pid in top:
                    continue
                if ppid == me:
                    top[pid] = pid
                    changed = True
                elif ppid in top:
                    top[pid] = top[ppid]
                    changed = True
        used: dict[str, float] = {}
        for pid, (comm, _, own, children) in procs1.items():
            before = self.procs0.get(pid)
            same = before is not None and before[0] == comm
            delta = own - (before[2] if before and same else 0.0)
            label = self._label(pid, comm, top)
            if pid == me or pid in top:  # ours: with the reaped work-horses of the RQ workers
                delta += children - (before[3] if before and same else 0.0)
            used[label] = used.get(label, 0.0) + delta / self.hz
        return used

    def _text(self, found: dict[str, float]) -> str:
        used = dict(found)
        elapsed = time.monotonic() - self.t0
        busy1, total1 = _proc_stat()
        busy = (busy1 - self.stat0[0]) / max(total1 - self.stat0[1], 1)
        busy_s = busy * elapsed * self.cores
        mine = {name: used.pop(name, 0.0) for name in self.OURS}
        mine_text = ", ".join(f"{name} {sec:.1f}" for name, sec in mine.items())
        others = sorted(used.items(), key=lambda item: -item[1])[:4]
        other_text = ", ".join(f"{name} {sec:.1f}" for name, sec in others if sec >= 0.05) or "none"
        rest = max(busy_s - sum(mine.values()), 0.0)
        load1 = os.getloadavg()
        return (
            f"machine: {self.cores} cores, {busy:.0%} busy over {elapsed:.0f} s ({busy_s:.0f} CPU-s); "
            f"CPU-s used by: {mine_text}; everything else {rest:.1f} (largest running: {other_text}); "
            f"loadavg 1 min {self.load0[0]:.2f} -> {load1[0]:.2f}"
        )


# --- the stack --------------------------------------------------------------------------------------


def _hermetic_environment() -> None:
    """No studio setting of the machine leaks into this process's Settings."""
    for name in Settings.model_fields:
        os.environ.pop(name.upper(), None)


@dataclass
class Stack:
    """Bring up what a benchmark needs; `with Stack(...) as stack:` tears it all down."""

    with_fal: bool = True
    log_level: str = "WARNING"
    poll_seconds: float | None = None  # PROVIDER_POLL_SECONDS (None: the default, 0.1 s)
    latency: float = 0.0  # the fake fal's IN_PROGRESS seconds, as the benchmark configured it

    def __post_init__(self) -> None:
        self._exit = contextlib.ExitStack()
        self._workers: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="studio-bench-")))
        self.fal: TimedFal | None = None

    # lifecycle

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def _start(self) -> None:
        _hermetic_environment()
        if self.with_fal:
            # Before anything imports fal_client: it reads the hosts at import time.
            if "fal_client" in sys.modules:
                raise RuntimeError("fal_client was imported before the fake fal server was set up")
            self.fal = TimedFal(reserve_socket())
            self.fal.start()
            self._exit.callback(self.fal.stop)
            self.fal.check_handshake()
            os.environ.update(self.fal.env())
        self.database_url = self._exit.enter_context(scratch_database(POSTGRES_ADMIN_URL, "bench"))
        self.database_name = str(sa.make_url(self.database_url).database)
        self.redis_url = self._exit.enter_context(_claimed_redis())
        self.s3_endpoint = self._exit.enter_context(_moto_server(self.tmp))
        self.bucket = f"studio-bench-{uuid.uuid4().hex[:12]}"
        self.secret_key = secrets.token_urlsafe(36)  # 48 characters
        self.settings = Settings(
            _env_file=None,
            data_dir=self.tmp / "data",
            database_url=self.database_url,
            redis_url=self.redis_url,
            s3_bucket=self.bucket,
            s3_endpoint_url=self.s3_endpoint,
            s3_access_key_id="testing",
            s3_secret_access_key="testing",  # noqa: S106 (moto accepts any key)
            secret_key=self.secret_key,
            fal_key=FAL_KEY,
            log_level=self.log_level,
            rate_limit_generations="1000000/minute",  # a benchmark submits hundreds at once on purpose
        )
        if self.poll_seconds is not None:
            self.settings = self.settings.model_copy(update={"provider_poll_seconds": self.poll_seconds})
        self.services: Services = bootstrap.build_services(self.settings)
        bootstrap.install(self.services)
        self._exit.callback(self._close_services)
        storage = self.services.storage
        assert isinstance(storage, S3Storage)
        storage.create_bucket()
        startup.start()
        self._exit.callback(self._stop_workers)

    def _close_services(self) -> None:
        bootstrap.install(None)
        self.services.close()

    # the account

    def account(self, jobs: int, plan: str | None = None) -> uuid.UUID:
        """A new user with credits for `jobs` generations of `request()` (an admin adjustment), on `plan`
        (its code) when given: a plan decides how many jobs the fair queue runs for it at once."""
        user_id = uuid.uuid4()
        name = f"bench{user_id.hex[:10]}"
        with self.services.uow() as uow:
            uow.session.add(
                User(
                    id=user_id,
                    email=f"{name}@bench.local",
                    username=name,
                    name="Bench",
                    email_verified_at=utcnow(),
                )
            )
            uow.commit()
        grant = self.cost(user_id) * jobs
        with self.services.uow() as uow:
            ledger.change_balance(uow.session, user_id, grant, LedgerKind.ADJUST, "benchmark credits")
            if plan is not None:
                plans.start_free_plan(uow.session, user_id)
                plan_id = uow.session.scalar(sa.select(Plan.id).where(Plan.code == plan))
                uow.session.execute(
                    sa.update(Subscription).where(Subscription.user_id == user_id).values(plan_id=plan_id)
                )
            uow.commit()
        return user_id

    def request(self) -> Request:
        return Request(ENDPOINT, PROMPT)

    def cost(self, account_id: uuid.UUID) -> int:
        return quote(self.services, account_id, self.request()).price.credits

    # workers

    def worker_env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp),
            "PYTHONPATH": str(ROOT),
            "DATA_DIR": str(self.tmp / "worker-data"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.s3_endpoint,
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing",
            "SECRET_KEY": self.secret_key,
            "FAL_KEY": FAL_KEY,
            "LOG_LEVEL": self.log_level,
        }
        if self.fal is not None:
            env |= self.fal.env()
        if self.poll_seconds is not None:
            env["PROVIDER_POLL_SECONDS"] = str(self.poll_seconds)
        return env

    def start_workers(
        self,
        workers: int,
        *,
        fork: bool = False,
        trace: Path | None = None,
        ready_timeout: float = 60,
    ) -> None:
        """`python worker.py [--workers N]`, waiting until N RQ workers are registered. With `fork` or
        `trace`, the diagnostic bench/_worker.py instead (see there)."""
        diagnostic = fork or trace is not None
        command = [sys.executable, str(ROOT / "bench" / "_worker.py" if diagnostic else ROOT / "worker.py")]
        env = self.worker_env()
        if fork:
            env["BENCH_FORK"] = "1"
        if trace is not None:
            env["BENCH_TRACE"] = str(trace)
        if workers > 1:
            command += ["--workers", str(workers)]
        log_path = self.tmp / f"worker-{len(self._workers)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
                command,
                env=env,
                cwd=self.tmp,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole, by its id
            )
        self._workers.append(process)
        self.worker_log = log_path
        connection = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + ready_timeout
        try:
            while Worker.count(connection=connection) < workers:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the worker did not start (exit {process.poll()}):\n{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.1)
        finally:
            connection.close()

    def _stop_workers(self) -> None:
        for process in self._workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # our own group (start_new_session)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        self._workers.clear()

    def worker_log_tail(self, chars: int = 3000) -> str:
        try:
            return self.worker_log.read_text()[-chars:]
        except (AttributeError, OSError):
            return ""


@contextlib.contextmanager
def _claimed_redis() -> Iterator[str]:
    """Redis db REDIS_DB (15), flushed at the start and the end; claimed with the tests' lock key so a
    concurrent test run does not pick it."""
    url = f"{REDIS_BASE_URL}/{REDIS_DB}"
    connection = Redis.from_url(url)
    token = f"bench-{uuid.uuid4().hex}"
    holder = connection.get(REDIS_LOCK)
    if holder is not None:
        connection.close()
        raise RuntimeError(
            f"Redis db {REDIS_DB} is claimed ({REDIS_LOCK}={holder!r}): set BENCH_REDIS_DB to a free one, "
            f"or if no test run or benchmark uses it: redis-cli -n {REDIS_DB} del {REDIS_LOCK}"
        )
    connection.flushdb()
    connection.set(REDIS_LOCK, token, ex=3600)
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


@contextlib.contextmanager
def _moto_server(tmp: Path) -> Iterator[str]:
    """moto in server mode as its own process (not a thread of this one: this process also serves the
    fake fal, and sharing its GIL with S3 would slow both)."""
    port = free_port()
    log_path = tmp / "moto.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 (moto from this virtualenv)
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start:\n{log_path.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poll-seconds", type=float, help="PROVIDER_POLL_SECONDS of the worker")
    group = parser.add_argument_group("diagnostics (run bench/_worker.py instead of worker.py)")
    group.add_argument(
        "--fork", action="store_true", help="RQ's forking Worker: a work-horse per job (for comparison)"
    )
    group.add_argument("--trace", action="store_true", help="time each step inside the worker")


def worker_variant(args: argparse.Namespace) -> str:
    variants = [name for name in ("fork", "trace") if getattr(args, name)]
    described = f"diagnostic bench/_worker.py: {', '.join(variants)}" if variants else "worker.py"
    return f"{described}, provider poll {args.poll_seconds or 0.1} s"


def trace_summary(path: Path, job_ids: set[str] | None = None) -> list[tuple[str, int, float, float, float]]:
    """From a BENCH_TRACE file: (step, calls per job, median ms per call, p95 ms per call, ms per job)."""
    import json
    from collections import defaultdict

    per_step: dict[str, list[float]] = defaultdict(list)
    jobs: set[str] = set()
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if job_ids is not None and record["job"] not in job_ids:
            continue
        jobs.add(record["job"])
        per_step[record["step"]].append(float(record["ms"]))
    count = max(len(jobs), 1)
    rows = []
    for step, values in per_step.items():
        calls = round(len(values) / count)
        rows.append((step, calls, percentile(values, 50), percentile(values, 95), sum(values) / count))
    return rows


def print_trace(path: Path, job_ids: set[str] | None = None) -> None:
    rows = trace_summary(path, job_ids)
    if not rows:
        return
    print("  inside the work-horse (BENCH_TRACE; nested steps overlap):")
    print(f"    {'step':<44} {'calls/job':>9} {'p50 ms':>8} {'p95 ms':>8} {'ms/job':>8}")
    for step, calls, p50, p95, per_job in rows:
        print(f"    {step:<44} {calls:>9} {p50:>8.1f} {p95:>8.1f} {per_job:>8.1f}")
