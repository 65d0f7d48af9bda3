"""How fal's HTTP answers become ProviderError codes: what users and admins are told."""

from __future__ import annotations

import pytest

from studio.adapters.fal import http_error
from studio.adapters.provider import decode_data_uri
from studio.errors import ProviderError


def test_a_422_is_the_models_own_message_said_plainly() -> None:
    detail = [
        {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["body", "image_size", "width"], "msg": "must be at most 14142"},
    ]
    error = http_error(422, detail)
    assert (error.code, error.retryable) == ("invalid", False)
    assert str(error) == "prompt: field required; image_size.width: must be at most 14142"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_configuration_error_that_names_the_setting(status: int) -> None:
    error = http_error(status, "Invalid key")
    assert (error.code, error.retryable) == ("auth", False)
    assert "FAL_KEY" in str(error)
    assert "Invalid key" not in str(error)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_busy_and_server_errors_are_retryable(status: int) -> None:
    error = http_error(status, "Request timed out", "request_timeout")
    assert (error.code, error.retryable) == ("unavailable", True)


def test_other_answers_fail_without_retry() -> None:
    error = http_error(404, "Request not found")
    assert (error.code, error.retryable) == ("failed", False)
    assert "Request not found" in str(error)


def test_data_uris_decode_and_bad_ones_are_refused() -> None:
    assert decode_data_uri("data:image/png;base64,aGVsbG8=") == (b"hello", "image/png")
    with pytest.raises(ProviderError, match="unreadable data URI") as caught:
        decode_data_uri("data:image/png;base64,not base64!")
    assert caught.value.code == "bad_output"
