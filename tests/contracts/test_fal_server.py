"""The fake fal queue server, checked with the real fal-client 1.0.3.

fal_client reads FAL_RUN_HOST / FAL_QUEUE_RUN_HOST when it is imported, and another test module may have
imported it already: fal_client is driven in subprocesses here, with the fake's environment.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.fal_server import FakeFal, reserve_socket

FLUX_DEV = "fal-ai/flux/dev"
AUTH = {"Authorization": "Key test-key:test-secret"}

# Prepended to every client script: `emit(obj)` prints the script's answer as the last stdout line.
_PRELUDE = """
import json, sys, time
import fal_client
from fal_client import Completed, FalClientHTTPError, InProgress, Queued

def emit(obj):
    print(json.dumps(obj))

def describe(status):
    out = {"kind": type(status).__name__}
    if isinstance(status, Queued):
        out["position"] = status.position
    else:
        out["logs"] = None if status.logs is None else [entry["message"] for entry in status.logs]
    if isinstance(status, Completed):
        out["error"] = status.error
        out["metrics"] = status.metrics
    return out
"""


def _script(body: str) -> str:
    return _PRELUDE + textwrap.dedent(body)


def run_client(fake: FakeFal, body: str, timeout: float = 30) -> Any:
    """Run a fal_client script in a fresh interpreter pointed at the fake; return what it emitted."""
    proc = subprocess.run(
        [sys.executable, "-c", _script(body)],
        env=os.environ | fake.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fake_fal() -> Iterator[FakeFal]:
    with FakeFal(reserve_socket()) as server:
        server.check_handshake()
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake_fal: FakeFal) -> None:
    fake_fal.reset()


def _client(fake: FakeFal) -> httpx.Client:
    return httpx.Client(base_url=fake.base_url, verify=fake.ssl_context(), timeout=5)


def test_subscribe_reports_queue_then_logs_then_serves_the_images(fake_fal: FakeFal) -> None:
    fake_fal.configure(
        FLUX_DEV, queue_time=0.6, queue_positions=[2, 1, 0], latency=0.3, logs=["load", "denoise", "decode"]
    )
    arguments = {
        "prompt": "a red fox",
        "image_size": "landscape_16_9",
        "num_images": 2,
        "seed": 42,
        "output_format": "jpeg",
    }
    out = run_client(
        fake_fal,
        f"""
        events, enqueued = [], []
        result = fal_client.subscribe(
            {FLUX_DEV!r}, {arguments!r}, with_logs=True, interval=0.05,
            on_enqueue=enqueued.append, on_queue_update=lambda s: events.append(describe(s)),
        )
        emit({{"events": events, "request_id": enqueued[0], "result": result}})
        """,
    )
    events, result, request_id = out["events"], out["result"], out["request_id"]

    assert events[0] == {"kind": "Queued", "position": 2}
    positions = [e["position"] for e in events if e["kind"] == "Queued"]
    assert positions == sorted(positions, reverse=True)
    running = [e["logs"] for e in events if e["kind"] == "InProgress"]
    assert running
    assert all(logs == ["load", "denoise", "decode"][: len(logs)] for logs in running)
    assert events[-1] == {
        "kind": "Completed",
        "logs": ["load", "denoise", "decode"],
        "error": None,
        "metrics": {"inference_time": 0.3},
    }

    assert result["seed"] == 42
    assert result["prompt"] == "a red fox"
    assert result["has_nsfw_concepts"] == [False, False]
    assert len(result["images"]) == 2
    with _client(fake_fal) as http:
        for image in result["images"]:
            assert (image["width"], image["height"], image["content_type"]) == (1024, 576, "image/jpeg")
            response = http.get(image["url"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/jpeg"
            assert len(response.content) == image["file_size"]
            decoded = Image.open(io.BytesIO(response.content))
            assert (decoded.format, decoded.size) == ("JPEG", (1024, 576))
    assert fake_fal.file_downloads == 2

    [submitted] = fake_fal.submits
    assert submitted.endpoint_id == FLUX_DEV
    assert submitted.body == arguments
    assert submitted.headers["authorization"] == "Key test-key:test-secret"
    assert submitted.request_id == request_id
    assert fake_fal.status_polls[request_id] > len(events)  # subscribe's get() polls once more
    assert fake_fal.results_fetched == {request_id: 1}


def test_a_failed_result_raises_the_http_error(fake_fal: FakeFal) -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "prompt is too long", "type": "value_error"}]
    fake_fal.configure(FLUX_DEV, result_error=(422, {"detail": detail}))
    out = run_client(
        fake_fal,
        f"""
        handle = fal_client.submit({FLUX_DEV!r}, {{"prompt": "x"}})
        try:
            handle.get(interval=0.02)
        except FalClientHTTPError as exc:
            error = {{"status_code": exc.status_code, "message": exc.message}}
        status = fal_client.status({FLUX_DEV!r}, handle.request_id)  # URL built by the client: no /dev
        emit({{"error": error, "status": describe(status)}})
        """,
    )
    assert out["error"] == {"status_code": 422, "message": detail}  # `message` is the detail list itself
    assert out["status"]["kind"] == "Completed"
    assert json.loads(out["status"]["error"]) == detail


def test_cancel(fake_fal: FakeFal) -> None:
    fake_fal.configure(never_completes=True, logs=["working"])
    out = run_client(
        fake_fal,
        f"""
        handle = fal_client.submit({FLUX_DEV!r}, {{"prompt": "x"}})
        while not isinstance(handle.status(), InProgress):
            time.sleep(0.02)
        handle.cancel()
        status = handle.status(with_logs=True)
        errors = []
        for call in (handle.get, handle.cancel):
            try:
                call()
            except FalClientHTTPError as exc:
                errors.append([exc.status_code, exc.message])
        emit({{"request_id": handle.request_id, "status": describe(status), "errors": errors}})
        """,
    )
    assert out["status"] == {"kind": "Completed", "logs": ["working"], "error": "cancelled", "metrics": {}}
    assert out["errors"][0] == [400, "Request was cancelled"]
    assert out["errors"][1][0] == 400  # ALREADY_COMPLETED
    assert fake_fal.cancels == [out["request_id"]] * 2


def test_fal_client_retries_429_itself(fake_fal: FakeFal) -> None:
    fake_fal.configure(submit_errors=[429], status_errors=[429])
    out = run_client(fake_fal, f"emit(fal_client.subscribe({FLUX_DEV!r}, {{'prompt': 'x'}}, interval=0.02))")
    assert len(out["images"]) == 1
    assert [s.status_code for s in fake_fal.submits] == [429, 200]
    assert fake_fal.submit_count(FLUX_DEV) == 2
    assert fake_fal.submit_count(accepted_only=True) == 1


def test_fal_client_does_not_retry_a_fal_503(fake_fal: FakeFal) -> None:
    fake_fal.configure(FLUX_DEV, submit_errors=[503])
    out = run_client(
        fake_fal,
        f"""
        try:
            fal_client.submit({FLUX_DEV!r}, {{"prompt": "x"}})
        except FalClientHTTPError as exc:
            first = [exc.status_code, exc.error_type]
        emit({{"first": first, "second": fal_client.submit({FLUX_DEV!r}, {{"prompt": "x"}}).request_id}})
        """,
    )
    assert out["first"] == [503, "runner_scheduling_failure"]
    assert [s.request_id for s in fake_fal.submits] == [None, out["second"]]


def test_wait_for_submit_sees_a_running_worker(fake_fal: FakeFal) -> None:
    fake_fal.configure(never_completes=True)
    script = _script(
        f"""
        handle = fal_client.submit({FLUX_DEV!r}, {{"prompt": "x"}})
        try:
            handle.get(interval=0.02)
        except FalClientHTTPError as exc:
            emit([exc.status_code, exc.message])
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], env=os.environ | fake_fal.env(), stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            [submitted] = fake_fal.wait_for_submit(timeout=10)
            fake_fal.wait_for(lambda f: f.status_polls.get(str(submitted.request_id), 0) >= 2)
            with _client(fake_fal) as http:
                response = http.put(f"/fal-ai/flux/requests/{submitted.request_id}/cancel", headers=AUTH)
            assert (response.status_code, response.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
            stdout, _ = proc.communicate(timeout=10)
        finally:
            proc.kill()
    assert json.loads(stdout) == [400, "Request was cancelled"]


def test_protocol_edges_over_plain_http(fake_fal: FakeFal) -> None:
    fake_fal.configure("fal-ai/flux-pro/v1.1-ultra", latency=0.0)
    fake_fal.configure("fal-ai/garbage", result_body={"images": "not-a-list"})
    fake_fal.configure("fal-ai/slow", never_completes=True)
    with _client(fake_fal) as http:
        assert http.post(f"/{FLUX_DEV}", json={"prompt": "x"}).status_code == 401
        assert http.get("/fal-ai/flux/requests/nope/status", headers=AUTH).status_code == 404

        ultra = http.post(
            "/fal-ai/flux-pro/v1.1-ultra", json={"prompt": "x", "aspect_ratio": "16:9"}, headers=AUTH
        ).json()
        assert (
            ultra["status_url"]
            == f"{fake_fal.base_url}/fal-ai/flux-pro/requests/{ultra['request_id']}/status"
        )
        status = http.get(ultra["status_url"], params={"logs": "true"}, headers=AUTH)
        assert (status.status_code, status.json()["status"], status.json()["logs"]) == (200, "COMPLETED", [])
        [image] = http.get(ultra["response_url"], headers=AUTH).json()["images"]
        assert (image["width"], image["height"], image["content_type"]) == (1344, 768, "image/png")

        slow = http.post("/fal-ai/slow", json={"prompt": "x"}, headers=AUTH).json()
        still = http.get(slow["response_url"], headers=AUTH)
        assert (still.status_code, still.json()) == (400, {"detail": "Request is still in progress"})
        running = http.get(slow["status_url"], headers=AUTH)
        assert (running.status_code, running.json()) == (202, {"status": "IN_PROGRESS", "logs": None})

        garbage = http.post("/fal-ai/garbage", json={"prompt": "x"}, headers=AUTH).json()
        assert http.get(garbage["response_url"], headers=AUTH).json() == {"images": "not-a-list"}

        bad = http.post(f"/{FLUX_DEV}", json={"prompt": "x", "image_size": "huge"}, headers=AUTH).json()
        refused = http.get(bad["response_url"], headers=AUTH)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "image_size"]
    assert fake_fal.submit_count() == 5
