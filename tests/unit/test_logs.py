"""Structured logs: one JSON object a line with the ids passed as fields, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from studio import logs
from studio.services.context import Services
from studio.web import routes


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.Redact())
    handler.setFormatter(logs.formatter("json"))
    logger = logging.getLogger("studio.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_json_with_the_ids_as_fields(captured: io.StringIO) -> None:
    logging.getLogger("studio.test_logs").info("job finished", extra={"job_id": "j1", "user_id": "u1"})
    (line,) = lines(captured)
    assert line["message"] == "job finished"
    assert (line["level"], line["logger"], line["job_id"], line["user_id"]) == (
        "INFO",
        "studio.test_logs",
        "j1",
        "u1",
    )


def test_secrets_are_redacted_from_fields_messages_and_tracebacks(captured: io.StringIO) -> None:
    log = logging.getLogger("studio.test_logs")
    log.info(
        "sign-in password=hunter2 with Authorization: Bearer abcdefghijklmnop to postgresql://app:pw123@db/x",
        extra={
            "password": "hunter2",
            "token": "t0ps3cret",
            "api_key": "k",
            "context": {"secret_key": "s"},
            "note": "key sk_live_abcdefgh12345678 token=raw-token",
        },
    )
    try:
        raise ValueError("FAL_KEY=fal-key-value broke")
    except ValueError:
        log.exception("failed")
    text = captured.getvalue()
    for secret in (
        "hunter2",
        "t0ps3cret",
        "abcdefghijklmnop",
        "pw123",
        "sk_live_abcdefgh",
        "raw-token",
        "fal-key-value",
    ):
        assert secret not in text, secret
    first, second = lines(captured)
    assert (first["password"], first["token"], first["api_key"]) == ("[redacted]", "[redacted]", "[redacted]")
    assert first["context"] == {"secret_key": "[redacted]"}
    assert "postgresql://app:[redacted]@db/x" in str(first["message"])
    assert "ValueError" in str(second["exc_info"])


def test_configure_sets_the_level_and_format_once(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("WARNING", "text")
    logs.configure("WARNING", "text")
    studio = logging.getLogger("studio")
    assert studio.level == logging.WARNING
    assert sum(isinstance(h, logs._StudioHandler) for h in studio.handlers) == 1
    logs.configure("INFO", "json")


def test_requests_are_logged_with_the_route_not_the_token(
    embedded_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(Starlette(routes=routes())) as client, caplog.at_level(logging.INFO, logger="studio.web"):
        response = client.get("/api/files/secret-token-value")
    assert response.status_code == 404
    [record] = [record for record in caplog.records if record.name == "studio.web"]
    assert record.getMessage() == "GET /api/files/{token} 404"
    assert "secret-token-value" not in caplog.text
