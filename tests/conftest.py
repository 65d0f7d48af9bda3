"""Fixtures for the real components: PostgreSQL, Redis, an S3 server (moto) and the studio's services.

Isolation: one PostgreSQL database per test run, each test inside a transaction rolled back at its end;
one Redis database number per run (claimed with a lock key, so parallel runs never share one), flushed
around every test; one bucket per test on a moto server bound to a free loopback port.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer
from playwright.sync_api import Browser, sync_playwright
from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from studio import bootstrap, startup
from studio.adapters.db import Database, migrate
from studio.adapters.db.engine import create_engine
from studio.adapters.mail import OutboxMailer
from studio.adapters.queue import InProcessQueue
from studio.adapters.storage import LocalStorage, S3Storage
from studio.services.context import Services
from studio.settings import Settings
from tests.databases import scratch_database
from tests.fal_server import FakeFal, reserve_socket

if TYPE_CHECKING:
    from tests.stripe_fake import Localstripe

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
TEST_SECRET = "test-secret-key-" + "k" * 40
_REDIS_LOCK = "studio-tests:lock"

# fal_client reads its hosts when it is imported (studio imports it only inside a job). The fake fal
# server's socket and TLS CA exist from the moment the tests are imported, so in-process fal-client calls
# reach the fake, and every subprocess inherits the same hosts and CA. It starts with `fake_fal`.
FAKE_FAL = FakeFal(reserve_socket())
os.environ.update({name: value for name, value in FAKE_FAL.env().items() if name != "FAL_KEY"})


@pytest.fixture(scope="session", autouse=True)
def _hermetic_environment() -> Iterator[None]:
    """No setting of the machine running the tests leaks into them."""
    with pytest.MonkeyPatch.context() as patch:
        for name in Settings.model_fields:
            patch.delenv(name.upper(), raising=False)
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- PostgreSQL -----------------------------------------------------------------------------------------


def scratch_postgres() -> AbstractContextManager[str]:
    """A new, empty PostgreSQL database for as long as the block runs."""
    return scratch_database(POSTGRES_ADMIN_URL, "studio_test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """This run's PostgreSQL database, migrated to the latest schema."""
    with scratch_postgres() as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Database]:
    """The database inside one transaction that is rolled back at the end; commits become savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield Database(engine, sessions)
    outer.rollback()
    connection.close()


@pytest.fixture
def postgres_db(postgres_engine: Engine) -> Iterator[Database]:
    with rolled_back(postgres_engine) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'studio.db'}")
    database.migrate()
    yield database
    database.dispose()


# --- Redis ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number nobody else is using (claimed with a lock key for this run)."""
    token = uuid.uuid4().hex
    for number in range(1, 16):
        connection = Redis.from_url(f"{REDIS_BASE_URL}/{number}")
        if connection.set(_REDIS_LOCK, token, nx=True, ex=3600):
            break
        connection.close()
    else:
        pytest.fail("every Redis database 1-15 is claimed by another test run")
    yield f"{REDIS_BASE_URL}/{number}"
    if connection.get(_REDIS_LOCK) == token.encode():
        connection.flushdb()
    connection.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    lock = connection.get(_REDIS_LOCK)
    connection.flushdb()
    connection.set(_REDIS_LOCK, lock or b"", ex=3600)
    yield connection
    connection.flushdb()
    connection.set(_REDIS_LOCK, lock or b"", ex=3600)
    connection.close()


# --- S3 (moto) ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str) -> S3Storage:
    storage = S3Storage(
        f"studio-test-{uuid.uuid4().hex[:12]}",
        endpoint_url=s3_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
    storage.create_bucket()
    return storage


# --- the studio's services ------------------------------------------------------------------------------


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


@contextmanager
def installed(settings: Settings, *, start: bool = True) -> Iterator[Services]:
    """The services of `settings` as this process's own (what pages and routes get), torn down after."""
    services = bootstrap.build_services(settings)
    bootstrap.install(services)
    try:
        if start:
            startup.start()
        yield services
    finally:
        bootstrap.install(None)
        services.close()


@pytest.fixture
def embedded_services(tmp_path: Path) -> Iterator[Services]:
    """Embedded mode on a temporary data directory, started as the app starts it."""
    with installed(embedded_settings(tmp_path / "data")) as services:
        yield services


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", secret_key=TEST_SECRET, base_url="http://testserver")


@pytest.fixture
def in_process_queue(tmp_path: Path) -> Iterator[InProcessQueue]:
    queue = InProcessQueue(tmp_path / "jobs", workers=1, queue_names=("high", "default", "low"))
    yield queue
    queue.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxMailer:
    return OutboxMailer(tmp_path / "outbox", sender="the studio <studio@example.org>")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def app_cwd(tmp_path: Path) -> Path:
    """A working directory holding the project's Streamlit config but no `.env`, for app subprocesses."""
    cwd = tmp_path / "cwd"
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    return cwd


def run_clean(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command with only `env` set and a working directory without `.env`: nothing else leaks in."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, env=base | env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll `condition` until it holds; fail the test with the timeout otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


# --- the browser (Debian's chromium, never a downloaded one) ------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# --- fal (the fake queue server over TLS) ---------------------------------------------------------------


@pytest.fixture(scope="session")
def _fal_server() -> Iterator[FakeFal]:
    with FAKE_FAL as server:
        server.check_handshake()  # a TLS mistake fails here, not after fal-client's ~50 s of retries
        yield server


@pytest.fixture
def fake_fal(_fal_server: FakeFal) -> FakeFal:
    """The fake fal queue server, with default behaviour and no records."""
    _fal_server.reset()
    return _fal_server


# --- mail (aiosmtpd) ------------------------------------------------------------------------------------


class _SmtpController(Controller):
    """aiosmtpd on a free port: bind to port 0, then learn which port the kernel chose."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SmtpInbox:
    """A real SMTP server in the test process; `messages` holds what it received."""

    host: str
    port: int
    messages: list[EmailMessage]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@contextmanager
def smtp_server(**options: Any) -> Iterator[SmtpInbox]:
    inbox = SmtpInbox("127.0.0.1", 0, [])
    controller = _SmtpController(inbox, hostname="127.0.0.1", port=0, **options)
    controller.start()
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    with smtp_server() as inbox:
        yield inbox


# --- Stripe ---------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_api() -> Iterator[Localstripe]:
    """A localstripe of the test's own (with the Checkout/Portal fake): no other test's events reach it."""
    from tests.stripe_fake import Localstripe

    server = Localstripe()
    try:
        yield server
    finally:
        server.close()
