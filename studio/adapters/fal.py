"""fal.ai through the real fal-client: submit, status with logs, result, cancel, downloads.

One `FalProvider` per job run: its `SyncClient(key=...)` and HTTP pools are made lazily inside the job, so
nothing is shared across an RQ work-horse's fork. fal_client reads FAL_RUN_HOST / FAL_QUEUE_RUN_HOST when it
is first imported; it is imported here only when a job first talks to fal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from studio.adapters.provider import ProviderStatus, download, normalise
from studio.errors import ProviderError, ProviderFailure

if TYPE_CHECKING:
    import fal_client

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def _detail_message(detail: Any) -> str:
    """fal's 422 detail is a list of {loc, msg}; say it the way a person reads it."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(part) for part in item.get("loc", []) if part != "body"]
                msg = str(item.get("msg", "invalid value"))
                parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts) or "the model refused the parameters"
    return str(detail)


def http_error(status: int, detail: Any, error_type: str | None = None) -> ProviderError:
    """An HTTP error answer of fal as a ProviderError code (see studio.adapters.provider)."""
    if status == 422:
        return ProviderError(_detail_message(detail), code=ProviderFailure.INVALID)
    if status in (401, 403):
        return ProviderError(
            f"fal refused the API key (HTTP {status}): check FAL_KEY", code=ProviderFailure.AUTH
        )
    if status in _TRANSIENT_STATUS:
        kind = error_type or "unavailable"
        return ProviderError(
            f"fal is unavailable (HTTP {status}, {kind})", code=ProviderFailure.UNAVAILABLE, retryable=True
        )
    return ProviderError(
        f"fal failed (HTTP {status}): {_detail_message(detail)}", code=ProviderFailure.FAILED
    )


def map_error(err: Exception) -> ProviderError:
    """fal-client's exceptions as ProviderError codes."""
    import fal_client

    if isinstance(err, fal_client.client.FalClientHTTPError):
        return http_error(err.status_code, err.message, err.error_type)
    if isinstance(err, httpx.TransportError | TimeoutError):
        return ProviderError(
            f"fal could not be reached: {err}", code=ProviderFailure.UNAVAILABLE, retryable=True
        )
    if isinstance(err, ValueError | KeyError | TypeError):
        return ProviderError(
            f"fal answered with something unexpected: {err!r}", code=ProviderFailure.BAD_OUTPUT
        )
    return ProviderError(f"fal failed: {err!r}", code=ProviderFailure.FAILED)


class FalProvider:
    """fal's queue API. Retries 429, 5xx and timeouts a bounded number of times with backoff."""

    name = "fal"

    def __init__(
        self, key: str, *, attempts: int = 5, backoff: float = 0.25, max_backoff: float = 4.0
    ) -> None:
        self._key = key
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._fal: fal_client.SyncClient | None = None
        self._http: httpx.Client | None = None

    @property
    def client(self) -> fal_client.SyncClient:
        if self._fal is None:
            import fal_client

            self._fal = fal_client.SyncClient(key=self._key)
        return self._fal

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except ProviderError:
            raise
        except Exception as err:  # every fal-client failure becomes a ProviderError with a code
            raise map_error(err) from err

    def _retrying(self, action: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=self._max_backoff),
            retry=retry_if_exception(lambda err: isinstance(err, ProviderError) and err.retryable),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "fal call failed (attempt %d), retrying: %s",
                state.attempt_number,
                state.outcome.exception() if state.outcome else "",
            ),
        )
        result: T = retrying(self._call, action)
        return result

    def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> str:
        handle = self._retrying(lambda: self.client.submit(endpoint_id, arguments))
        return handle.request_id

    def status(self, endpoint_id: str, request_id: str) -> ProviderStatus:
        """One status poll with logs (no retries: the caller polls again)."""
        import fal_client

        status = self._call(lambda: self.client.status(endpoint_id, request_id, with_logs=True))
        if isinstance(status, fal_client.Queued):
            return ProviderStatus("queued", queue_position=status.position)
        logs = [str(entry.get("message", "")) for entry in (getattr(status, "logs", None) or [])]
        if isinstance(status, fal_client.Completed):
            return ProviderStatus("completed", logs=logs, error=status.error)
        return ProviderStatus("running", logs=logs)

    def result(self, endpoint_id: str, request_id: str) -> dict[str, Any]:
        """The output, fetched once the status says completed (no second wait on the status)."""

        def fetch() -> dict[str, Any]:
            handle = self.client.get_handle(endpoint_id, request_id)
            response = handle.client.get(handle.response_url, timeout=httpx.Timeout(120, connect=30))
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code >= 400:
                detail = body.get("detail", response.text) if isinstance(body, dict) else response.text
                error_type = body.get("error_type") if isinstance(body, dict) else None
                raise http_error(response.status_code, detail, error_type)
            if not isinstance(body, dict):
                raise ProviderError(
                    "fal returned a result that is not a JSON object", code=ProviderFailure.BAD_OUTPUT
                )
            return normalise(endpoint_id, body)

        return self._retrying(fetch)

    def cancel(self, endpoint_id: str, request_id: str) -> None:
        self._retrying(lambda: self.client.cancel(endpoint_id, request_id))

    def download(self, url: str) -> tuple[bytes, str]:
        if self._http is None:
            # No fal key on this client: output URLs may point anywhere.
            self._http = httpx.Client(timeout=httpx.Timeout(60, connect=15), follow_redirects=True)
        http = self._http
        return self._retrying(lambda: download(http, url))

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._fal is not None and "_client" in self._fal.__dict__:
            self._fal._client.close()
