"""The fake fal queue server, checked with the real fal-client 1.0.3.

fal_client reads FAL_RUN_HOST / FAL_QUEUE_RUN_HOST when it is imported, and another test module may have
imported it already: fal_client is driven in subprocesses here, with the fake's environment.
"""

from __future__ import annotations

import base64
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

from studio.adapters.storage import S3Storage
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


# --- the iteration endpoints: image inputs, required fields, the shapes and sizes of their answers ----------

I2I = "fal-ai/flux/dev/image-to-image"
FILL = "fal-ai/flux-pro/v1/fill"
EXPAND = "fal-ai/bria/expand"
UPSCALE = "fal-ai/clarity-upscaler"
BIREFNET = "fal-ai/birefnet/v2"
LORA = "fal-ai/lora"
STICKER = "fal-ai/face-to-sticker"
STANDARD_KEYS = {"images", "seed", "has_nsfw_concepts", "timings", "prompt"}


def _data_uri(size: tuple[int, int] = (64, 48), mode: str = "RGB", fmt: str = "PNG") -> str:
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(_image_bytes(size, mode, fmt)).decode()}"


def _image_bytes(size: tuple[int, int] = (64, 48), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 255 if mode == "L" else (200, 80, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


PHOTO = _data_uri()
MASK = _data_uri(mode="L")

# endpoint -> (the body the studio sends, its answer's keys, {answer key: [(width, height, mode, format)]})
ITERATIONS: dict[str, tuple[dict[str, Any], set[str], dict[str, list[tuple[int, int, str, str]]]]] = {
    I2I: (
        {
            "prompt": "a watercolour fox",
            "image_url": _data_uri(fmt="JPEG"),
            "strength": 0.8,
            "num_inference_steps": 28,
            "guidance_scale": 3.5,
            "num_images": 2,
            "seed": 7,
            "acceleration": "none",
            "enable_safety_checker": True,
            "output_format": "jpeg",
        },
        STANDARD_KEYS,
        {"images": [(64, 48, "RGB", "JPEG")] * 2},
    ),
    FILL: (
        {
            "prompt": "a hat",
            "image_url": PHOTO,
            "mask_url": MASK,
            "num_images": 1,
            "seed": 7,
            "safety_tolerance": "2",
            "enhance_prompt": False,
            "output_format": "png",
        },
        STANDARD_KEYS,
        {"images": [(64, 48, "RGB", "PNG")]},
    ),
    EXPAND: (
        {
            "image_url": PHOTO,
            "canvas_size": [96, 80],
            "original_image_size": [64, 48],
            "original_image_location": [32, 0],
            "prompt": "",
            "seed": 7,
        },
        {"image", "seed"},
        {"image": [(96, 80, "RGB", "PNG")]},
    ),
    UPSCALE: (
        {
            "image_url": _data_uri(fmt="WEBP"),
            "upscale_factor": 2.5,
            "prompt": "masterpiece, best quality, highres",
            "negative_prompt": "(worst quality, low quality, normal quality:2)",
            "creativity": 0.35,
            "resemblance": 0.6,
            "guidance_scale": 4,
            "num_inference_steps": 18,
            "seed": 7,
            "enable_safety_checker": True,
        },
        {"image", "seed", "timings"},
        {"image": [(160, 120, "RGB", "PNG")]},
    ),
    BIREFNET: (
        {
            "image_url": PHOTO,
            "model": "General Use (Light)",
            "operating_resolution": "1024x1024",
            "output_format": "png",
            "output_mask": True,
            "refine_foreground": True,
        },
        {"image", "mask_image"},
        {"image": [(64, 48, "RGBA", "PNG")], "mask_image": [(64, 48, "L", "PNG")]},
    ),
    LORA: (
        {
            "model_name": "stabilityai/stable-diffusion-xl-base-1.0",
            "prompt": "a lighthouse",
            "negative_prompt": "",
            "image_size": {"width": 80, "height": 64},
            "num_inference_steps": 30,
            "guidance_scale": 7.5,
            "num_images": 1,
            "seed": 7,
            "loras": [],
            "scheduler": "DPM++ 2M",
            "image_format": "jpeg",
            "enable_safety_checker": True,
        },
        STANDARD_KEYS,
        {"images": [(80, 64, "RGB", "JPEG")]},
    ),
    STICKER: (
        {
            "image_url": PHOTO,
            "prompt": "a person",
            "negative_prompt": "",
            "image_size": {"width": 96, "height": 96},
            "num_inference_steps": 20,
            "guidance_scale": 4.5,
            "instant_id_strength": 0.7,
            "ip_adapter_weight": 0.2,
            "ip_adapter_noise": 0.5,
            "upscale": False,
            "upscale_steps": 10,
            "seed": 7,
            "enable_safety_checker": True,
        },
        {"images", "sticker_image", "sticker_image_background_removed", "seed", "has_nsfw_concepts"},
        {
            "images": [(96, 96, "RGB", "PNG")],
            "sticker_image": [(96, 96, "RGB", "PNG")],
            "sticker_image_background_removed": [(96, 96, "RGBA", "PNG")],
        },
    ),
}


def _subscribe(fake: FakeFal, endpoint: str, arguments: dict[str, Any]) -> Any:
    return run_client(fake, f"emit(fal_client.subscribe({endpoint!r}, {arguments!r}, interval=0.02))")


def _refused(fake: FakeFal, endpoint: str, arguments: dict[str, Any]) -> list[Any]:
    """[status code, message] of the FalClientHTTPError that getting the result raises."""
    return run_client(  # type: ignore[no-any-return]
        fake,
        f"""
        handle = fal_client.submit({endpoint!r}, {arguments!r})
        try:
            emit(["no error", handle.get(interval=0.02)])
        except FalClientHTTPError as exc:
            emit([exc.status_code, exc.message])
        """,
    )


def _files(fake: FakeFal, answer: dict[str, Any]) -> dict[str, list[tuple[int, int, str, str]]]:
    """Every file an answer names, downloaded: answer key -> [(width, height, mode, format)]."""
    found: dict[str, list[tuple[int, int, str, str]]] = {}
    with _client(fake) as http:
        for key, value in answer.items():
            described = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) and "url" in item for item in described):
                continue
            for item in described:
                response = http.get(item["url"])
                assert response.status_code == 200
                assert response.headers["content-type"] == item["content_type"]
                assert len(response.content) == item["file_size"]
                decoded = Image.open(io.BytesIO(response.content))
                assert decoded.size == (item["width"], item["height"])
                found.setdefault(key, []).append((*decoded.size, decoded.mode, str(decoded.format)))
    return found


@pytest.mark.parametrize("endpoint", list(ITERATIONS))
def test_an_iteration_endpoint_answers_its_own_shape_and_sizes(fake_fal: FakeFal, endpoint: str) -> None:
    arguments, keys, files = ITERATIONS[endpoint]
    answer = _subscribe(fake_fal, endpoint, arguments)

    assert set(answer) == keys
    assert _files(fake_fal, answer) == files
    if "seed" in keys:
        assert answer["seed"] == 7
    [submitted] = fake_fal.submits
    assert (submitted.endpoint_id, submitted.body) == (endpoint, arguments)  # as received, untouched


def test_the_transparent_outputs_are_cut_outs(fake_fal: FakeFal) -> None:
    cutout = _subscribe(fake_fal, BIREFNET, ITERATIONS[BIREFNET][0])
    sticker = _subscribe(fake_fal, STICKER, ITERATIONS[STICKER][0])
    assert sticker["has_nsfw_concepts"] == {
        "images": False,
        "sticker_image": False,
        "sticker_image_background_removed": False,
    }
    with _client(fake_fal) as http:
        image, mask, removed = (
            Image.open(io.BytesIO(http.get(item["url"]).content))
            for item in (cutout["image"], cutout["mask_image"], sticker["sticker_image_background_removed"])
        )
    assert image.getchannel("A").getextrema() == (0, 255)  # a subject on transparency
    assert image.getchannel("A").tobytes() == mask.tobytes()  # the mask is the alpha
    assert removed.getchannel("A").getextrema() == (0, 255)


def test_birefnet_without_output_mask_answers_no_mask(fake_fal: FakeFal) -> None:
    arguments = ITERATIONS[BIREFNET][0] | {"output_mask": False}
    assert set(_subscribe(fake_fal, BIREFNET, arguments)) == {"image"}


@pytest.mark.parametrize(
    ("endpoint", "dropped", "missing"),
    [
        (FILL, ("mask_url",), ["mask_url"]),
        (I2I, ("prompt", "image_url"), ["prompt", "image_url"]),
        (LORA, ("model_name",), ["model_name"]),
        (EXPAND, ("canvas_size",), ["canvas_size"]),
    ],
)
def test_a_missing_required_field_is_a_422_at_the_result(
    fake_fal: FakeFal, endpoint: str, dropped: tuple[str, ...], missing: list[str]
) -> None:
    arguments = {k: v for k, v in ITERATIONS[endpoint][0].items() if k not in dropped}
    assert _refused(fake_fal, endpoint, arguments) == [
        422,
        [{"loc": ["body", name], "msg": "Field required", "type": "missing"} for name in missing],
    ]


def test_a_mask_of_another_size_is_refused(fake_fal: FakeFal) -> None:
    arguments = ITERATIONS[FILL][0] | {"mask_url": _data_uri((32, 24), mode="L")}
    code, [detail] = _refused(fake_fal, FILL, arguments)
    assert (code, detail["loc"], detail["msg"]) == (
        422,
        ["body", "mask_url"],
        "mask dimensions 32x24 do not match the image's 64x48",
    )


@pytest.mark.parametrize(
    "image_url",
    [
        "data:image/png;base64," + base64.b64encode(b"not an image").decode(),
        "data:image/png;base64,%%%",
        "ftp://127.0.0.1/photo.png",
    ],
)
def test_an_image_that_cannot_be_loaded_is_refused(fake_fal: FakeFal, image_url: str) -> None:
    code, [detail] = _refused(fake_fal, UPSCALE, ITERATIONS[UPSCALE][0] | {"image_url": image_url})
    assert (code, detail["loc"], detail["msg"]) == (422, ["body", "image_url"], "could not load the image")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"canvas_size": [5000, 80]}, "canvas_size"),
        ({"canvas_size": "96x80"}, "canvas_size"),
        ({"original_image_size": [60, 48]}, "original_image_size"),
        ({"original_image_location": [40, 0]}, "original_image_location"),
        ({"original_image_location": [-1, 0]}, "original_image_location"),
    ],
)
def test_expand_refuses_a_canvas_the_original_does_not_fit(
    fake_fal: FakeFal, change: dict[str, Any], field: str
) -> None:
    with _client(fake_fal) as http:
        submitted = http.post(f"/{EXPAND}", json=ITERATIONS[EXPAND][0] | change, headers=AUTH).json()
        refused = http.get(submitted["response_url"], headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", field]


def test_an_http_image_input_is_fetched(fake_fal: FakeFal, s3_storage: S3Storage) -> None:
    s3_storage.put("inputs/photo.png", _image_bytes((40, 30)), "image/png")
    arguments = ITERATIONS[I2I][0] | {"image_url": s3_storage.url("inputs/photo.png", 300), "num_images": 1}
    assert arguments["image_url"].startswith("http://127.0.0.1:")
    answer = _subscribe(fake_fal, I2I, arguments)
    assert _files(fake_fal, answer) == {"images": [(40, 30, "RGB", "JPEG")]}

    gone = arguments | {"image_url": s3_storage.url("inputs/missing.png", 300)}  # moto answers 404
    code, [detail] = _refused(fake_fal, I2I, gone)
    assert (code, detail["loc"], detail["msg"]) == (422, ["body", "image_url"], "could not load the image")


def test_the_behaviour_knobs_apply_to_the_iteration_endpoints(fake_fal: FakeFal) -> None:
    fake_fal.configure(FILL, submit_errors=[503], never_completes=True)
    fake_fal.configure(BIREFNET, result_body={"image": "verbatim"})
    with _client(fake_fal) as http:
        assert http.post(f"/{FILL}", json=ITERATIONS[FILL][0], headers=AUTH).status_code == 503
        fill = http.post(f"/{FILL}", json=ITERATIONS[FILL][0], headers=AUTH).json()
        assert http.get(fill["status_url"], headers=AUTH).json()["status"] == "IN_PROGRESS"
        cutout = http.post(f"/{BIREFNET}", json=ITERATIONS[BIREFNET][0], headers=AUTH).json()
        assert http.get(cutout["response_url"], headers=AUTH).json() == {"image": "verbatim"}
