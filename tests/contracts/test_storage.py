"""One contract for every object store: local files, S3 (moto over HTTP) and the in-memory fake."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from studio.adapters.storage import LocalStorage, ObjectStorage, S3Storage
from studio.errors import InvalidInput, NotFound
from studio.web import routes
from tests.support.fakes import FakeStorage

Fetch = Callable[[str], tuple[int, bytes, dict[str, str]]]


@dataclass
class Store:
    storage: ObjectStorage
    fetch: Fetch  # what a browser gets for a URL from `storage.url`


def _http_fetch(client: httpx.Client | TestClient) -> Fetch:
    def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
        response = client.get(url)
        return response.status_code, response.content, dict(response.headers)

    return fetch


@pytest.fixture(params=["local", "s3", "fake"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "s3":
        s3: S3Storage = request.getfixturevalue("s3_storage")
        with httpx.Client() as client:
            yield Store(s3, _http_fetch(client))
    elif request.param == "local":
        local: LocalStorage = request.getfixturevalue("local_storage")
        services = request.getfixturevalue("embedded_services")
        services.storage = local  # the signed-file route serves this store
        with TestClient(Starlette(routes=routes())) as client:
            yield Store(local, _http_fetch(client))
    else:
        fake = FakeStorage()
        yield Store(fake, fake.fetch)


PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def test_put_then_get_returns_the_same_bytes(store: Store) -> None:
    store.storage.put("users/u1/images/a.png", PNG_HEADER + b"pixels", "image/png")
    assert store.storage.get("users/u1/images/a.png") == PNG_HEADER + b"pixels"


def test_put_accepts_a_file_object(store: Store) -> None:
    store.storage.put("users/u1/b.bin", io.BytesIO(b"streamed"), "application/octet-stream")
    assert store.storage.get("users/u1/b.bin") == b"streamed"


def test_put_overwrites(store: Store) -> None:
    store.storage.put("k/x", b"one", "text/plain")
    store.storage.put("k/x", b"two", "text/plain")
    assert store.storage.get("k/x") == b"two"


def test_exists_and_delete(store: Store) -> None:
    assert not store.storage.exists("k/gone")
    store.storage.put("k/gone", b"x", "text/plain")
    assert store.storage.exists("k/gone")
    store.storage.delete("k/gone")
    assert not store.storage.exists("k/gone")
    store.storage.delete("k/gone")  # deleting twice is fine


def test_missing_object_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.storage.get("k/missing")
    with pytest.raises(NotFound):
        list(store.storage.stream("k/missing"))


def test_stream_yields_the_object_in_chunks(store: Store) -> None:
    data = bytes(range(256)) * 3000  # 768 KB: several chunks
    store.storage.put("k/big", data, "application/octet-stream")
    chunks = list(store.storage.stream("k/big"))
    assert len(chunks) > 1
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    "key", ["../escape", "/absolute", "a/../../b", ".hidden", "a//b", "", "a b", "a/.meta"]
)
def test_keys_that_could_escape_are_refused(store: Store, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.storage.put(key, b"x", "text/plain")
    with pytest.raises(InvalidInput):
        store.storage.url(key, 60)


def test_url_serves_the_object_with_its_type(store: Store) -> None:
    store.storage.put("users/u1/c.png", PNG_HEADER + b"c", "image/png")
    status, body, headers = store.fetch(store.storage.url("users/u1/c.png", 60))
    assert status == 200
    assert body == PNG_HEADER + b"c"
    assert headers["content-type"] == "image/png"


def test_url_can_name_a_download(store: Store) -> None:
    store.storage.put("users/u1/d.png", b"d", "image/png")
    status, _, headers = store.fetch(store.storage.url("users/u1/d.png", 60, download_name="sunset.png"))
    assert status == 200
    assert 'filename="sunset.png"' in headers["content-disposition"]


def test_url_of_a_deleted_object_serves_nothing(store: Store) -> None:
    store.storage.put("users/u1/e.png", b"e", "image/png")
    url = store.storage.url("users/u1/e.png", 60)
    store.storage.delete("users/u1/e.png")
    status, body, _ = store.fetch(url)
    assert status in (403, 404)
    assert body != b"e"


def test_check_passes_on_a_reachable_store(store: Store) -> None:
    store.storage.check()


def test_s3_links_name_the_endpoint_browsers_reach() -> None:
    """Inside docker compose the app talks to minio:9000; browsers must get localhost:9000 links."""
    storage = S3Storage(
        "studio",
        endpoint_url="http://minio:9000",
        public_url="http://localhost:9000",
        access_key_id="studio",
        secret_access_key="a-real-secret",
    )
    url = storage.url("users/u/a.png", 60, download_name="a.png")
    assert url.startswith("http://localhost:9000/studio/users/u/a.png?")
    assert "X-Amz-Expires=60" in url
    assert "response-content-disposition=attachment" in url
