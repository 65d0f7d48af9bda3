"""The studio's HTTP routes: /healthz on both modes (and with each service down), signed file links."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.web.server.starlette import starlette_server

from studio import bootstrap
from studio.adapters.storage import LocalStorage, S3Storage
from studio.services.admin.health import check_health
from studio.services.context import Services
from studio.settings import Settings
from studio.web import routes, tcp
from studio.web.files import INLINE_BYTES
from tests.support.databases import scratch_postgres
from tests.support.env import TEST_SECRET, free_port, wait_for
from tests.support.services import installed


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=routes())) as test_client:
        yield test_client


def production_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, secret_key=TEST_SECRET, **overrides)


@pytest.fixture
def production(tmp_path: Path, postgres_url: str, redis_url: str, s3_endpoint: str) -> Iterator[Services]:
    settings = production_settings(
        tmp_path,
        database_url=postgres_url,
        redis_url=redis_url,
        s3_bucket=f"studio-health-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing-secret",
    )
    with installed(settings, start=False) as services:
        assert isinstance(services.storage, S3Storage)
        services.storage.create_bucket()
        yield services


def test_healthz_in_embedded_mode(embedded_services: Services, client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["backend"] for name, check in body["checks"].items()} == {
        "database": "sqlite",
        "queue": "in-process",
        "storage": "local",
    }


def test_healthz_on_postgres_redis_and_s3(production: Services, client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert {name: check["backend"] for name, check in checks.items()} == {
        "database": "postgres",
        "queue": "rq",
        "storage": "s3",
    }
    assert all(check["ok"] for check in checks.values())


def _down(client: TestClient) -> dict[str, Any]:
    response = client.get("/healthz")
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert body["status"] == "unavailable"
    checks: dict[str, Any] = body["checks"]
    return checks


def test_healthz_reports_redis_down(tmp_path: Path, client: TestClient) -> None:
    settings = production_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with installed(settings, start=False) as services:
        services.database.migrate()
        checks = _down(client)
    assert not checks["queue"]["ok"]
    assert "Redis" in checks["queue"]["error"]
    assert checks["database"]["ok"]
    assert checks["storage"]["ok"]


def test_healthz_reports_postgres_down(tmp_path: Path, client: TestClient) -> None:
    url = f"postgresql+psycopg://studio:not-a-placeholder@127.0.0.1:{free_port()}/studio"
    with installed(production_settings(tmp_path, database_url=url), start=False):
        checks = _down(client)
    assert not checks["database"]["ok"]
    assert "not-a-placeholder" not in str(checks)  # no password in the report


def test_healthz_reports_a_missing_bucket(tmp_path: Path, client: TestClient, s3_endpoint: str) -> None:
    settings = production_settings(
        tmp_path,
        s3_bucket="studio-no-such-bucket",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing-secret",
    )
    with installed(settings, start=False):
        assert not _down(client)["storage"]["ok"]


def test_healthz_reports_pending_migrations(tmp_path: Path, client: TestClient) -> None:
    with scratch_postgres() as url:
        with installed(production_settings(tmp_path, database_url=url), start=False):  # never migrated
            database = _down(client)["database"]
        assert "run the migrations" in database["error"]


class _Hangs:
    backend = "test"

    def check(self) -> None:
        time.sleep(6)


class _Fine:
    backend = "test"

    def check(self) -> None:
        pass


def test_a_hanging_service_fails_its_check_in_bounded_time() -> None:
    started = time.monotonic()
    report = check_health({"slow": _Hangs(), "fast": _Fine()}, timeout=0.3)
    assert time.monotonic() - started < 3  # well before the 6 s the service would have taken
    checks = {check.name: check for check in report.checks}
    assert not checks["slow"].ok
    assert checks["slow"].error == "no answer within 0.3 s"
    assert checks["fast"].ok
    assert not report.ok


# --- signed file links (local storage) ------------------------------------------------------------------


@pytest.fixture
def local(embedded_services: Services) -> LocalStorage:
    assert isinstance(embedded_services.storage, LocalStorage)
    return embedded_services.storage


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_signed_link_serves_the_file_with_safe_headers(local: LocalStorage, client: TestClient) -> None:
    local.put("users/u/images/i.png", b"\x89PNG-bytes", "image/png")
    url = local.url("users/u/images/i.png", expires_in=120)
    assert url.startswith("http://localhost:8501/api/files/")
    response = client.get(f"/api/files/{token_of(url)}")
    assert response.status_code == 200
    assert response.content == b"\x89PNG-bytes"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    max_age = int(response.headers["cache-control"].rsplit("=", 1)[1])
    assert 100 <= max_age <= 120  # cached no longer than the link lives
    assert client.head(f"/api/files/{token_of(url)}").status_code == 200


def test_small_and_large_files_come_whole_with_their_length(local: LocalStorage, client: TestClient) -> None:
    small, large = b"w" * INLINE_BYTES, bytes(range(256)) * (INLINE_BYTES // 128)
    local.put("users/u/thumbs/t.webp", small, "image/webp")
    local.put("users/u/images/big.png", large, "image/png")
    for key, data in (("users/u/thumbs/t.webp", small), ("users/u/images/big.png", large)):
        token = token_of(local.url(key, expires_in=60))
        response = client.get(f"/api/files/{token}")
        assert response.status_code == 200
        assert response.content == data
        assert int(response.headers["content-length"]) == len(data)
        head = client.head(f"/api/files/{token}")
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(data)
        assert head.content == b""


def test_an_expired_link_is_refused(local: LocalStorage, client: TestClient) -> None:
    local.put("users/u/a.png", b"a", "image/png")
    expired = LocalStorage(local.root, secret_key=bootstrap.secret_key(bootstrap.services().settings),
                           base_url="http://x", clock=lambda: time.time() - 3600)  # fmt: skip
    response = client.get(f"/api/files/{token_of(expired.url('users/u/a.png', expires_in=60))}")
    assert response.status_code == 404
    assert "expired" in response.text


def test_forged_and_altered_links_are_refused(local: LocalStorage, client: TestClient) -> None:
    local.put("users/u/a.png", b"a", "image/png")
    local.put("users/other/secret.png", b"secret", "image/png")
    token = token_of(local.url("users/u/a.png", expires_in=60))
    forged = LocalStorage(local.root, secret_key="someone-elses-key-" + "x" * 30, base_url="http://x")
    for attempt in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # altered signature
        token_of(forged.url("users/other/secret.png", expires_in=60)),  # signed with the wrong key
        "not-a-token",
        "",
    ):
        response = client.get(f"/api/files/{attempt}")
        assert response.status_code == 404, attempt
        assert response.content != b"secret"


def test_a_link_to_an_object_that_is_gone_is_refused(local: LocalStorage, client: TestClient) -> None:
    local.put("users/u/b.png", b"b", "image/png")
    url = local.url("users/u/b.png", expires_in=60)
    local.delete("users/u/b.png")
    assert client.get(f"/api/files/{token_of(url)}").status_code == 404


def test_the_files_route_serves_nothing_when_storage_is_s3(production: Services, client: TestClient) -> None:
    assert client.get("/api/files/anything").status_code == 404


def test_the_server_hands_out_connections_without_nagle() -> None:
    """Streamlit binds its own listening socket (protocol 0, so asyncio leaves Nagle on): studio.web.tcp
    sets TCP_NODELAY on it when uvicorn starts serving it, and accepted connections inherit it (else each
    keep-alive response waits ~40 ms for a delayed ACK)."""
    tcp.install()
    tcp.install()  # once is enough: the second call wraps nothing again
    assert not hasattr(uvicorn.Server.startup.__wrapped__, "__wrapped__")  # type: ignore[attr-defined]
    listener, _ = starlette_server._bind_server_socket("127.0.0.1", "127.0.0.1", 0, 8)  # as `streamlit run`
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes()), lifespan="off", log_level="warning"))
    serving = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    serving.start()
    try:
        wait_for(lambda: server.started, timeout=10)
        with socket.create_connection(listener.getsockname()) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1.1 ")
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.should_exit = True
        serving.join(timeout=10)
        listener.close()
    # What it relies on: a connection accepted from such a listener has TCP_NODELAY itself (Linux).
    with socket.socket(socket.AF_INET) as plain:
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with socket.create_connection(plain.getsockname()):
            accepted, _ = plain.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
