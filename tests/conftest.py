"""Fixtures for the real components: PostgreSQL, Redis, an S3 server (moto) and the studio's services.

Isolation: one PostgreSQL database per test run, each test inside a transaction rolled back at its end;
one Redis database number per run (claimed with a lock key, so parallel runs never share one), flushed
around every test; one bucket per test on a moto server bound to a free loopback port.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto.server import ThreadedMotoServer
from playwright.sync_api import Browser, sync_playwright
from redis import Redis
from sqlalchemy.engine import Engine
from streamlit.runtime.pages_manager import PagesManager

from studio.adapters.db import Database, migrate
from studio.adapters.db.engine import create_engine
from studio.adapters.mail import OutboxMailer
from studio.adapters.queue import InProcessQueue
from studio.adapters.storage import LocalStorage, S3Storage
from studio.services.context import Services
from studio.settings import Settings
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.databases import rolled_back, scratch_postgres
from tests.support.env import ARTIFACTS, ROOT, TEST_SECRET
from tests.support.fakes import FakeQueue
from tests.support.fal_server import FakeFal, reserve_socket
from tests.support.mail import SmtpInbox, smtp_server
from tests.support.services import embedded_settings, installed

if TYPE_CHECKING:
    from tests.support.stripe_fake import Localstripe

REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
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


@pytest.fixture(autouse=True)
def _navigation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest runs pages the way the server does (see studio/ui/shell/server.py).

    AppTest rebuilds Streamlit's pages manager on every run, which would fall back to the old pages-folder
    mode and run a page file without Home.py; the server turns that mode off at start.
    """
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


# --- PostgreSQL -----------------------------------------------------------------------------------------


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


@pytest.fixture
def embedded_services(tmp_path: Path) -> Iterator[Services]:
    """Embedded mode on a temporary data directory, started as the app starts it."""
    with installed(embedded_settings(tmp_path / "data")) as services:
        yield services


@pytest.fixture(params=["sqlite-local", "postgres-s3"])
def backend(request: pytest.FixtureRequest, embedded_services: Services) -> Services:
    """The embedded services with their jobs recorded by a FakeQueue: on SQLite and local files, then on
    PostgreSQL (rolled back) and an S3 server."""
    queue = FakeQueue(queue_names=embedded_services.settings.queue_names)
    if request.param == "sqlite-local":
        return dataclasses.replace(embedded_services, queue=queue)
    return dataclasses.replace(
        embedded_services,
        database=request.getfixturevalue("postgres_db"),
        storage=request.getfixturevalue("s3_storage"),
        queue=queue,
    )


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


# --- the browser (Debian's chromium, never a downloaded one) ------------------------------------------


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


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    with smtp_server() as inbox:
        yield inbox


# --- Stripe ---------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_api() -> Iterator[Localstripe]:
    """A localstripe of the test's own (with the Checkout/Portal fake): no other test's events reach it."""
    from tests.support.stripe_fake import Localstripe

    server = Localstripe()
    try:
        yield server
    finally:
        server.close()
