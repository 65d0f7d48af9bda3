"""The seam for image providers: fal.ai (fal-client) in production, a demo renderer in embedded mode.

Generation jobs talk to a provider only through this Protocol. `bootstrap` will pick the implementation
from FAL_KEY, the same way it picks storage from S3_BUCKET; a worker builds its client inside the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ProviderStatus:
    """Where a submitted request stands: in the provider's queue, running, or done."""

    state: Literal["queued", "running", "completed"]
    queue_position: int | None = None
    logs: list[str] = field(default_factory=list)


class Provider(Protocol):
    name: str

    def submit(self, endpoint_id: str, arguments: dict[str, Any]) -> str:
        """Send a request; return the provider's request id (stored before anything waits on it)."""
        ...

    def status(self, endpoint_id: str, request_id: str) -> ProviderStatus: ...

    def result(self, endpoint_id: str, request_id: str) -> dict[str, Any]: ...

    def cancel(self, endpoint_id: str, request_id: str) -> None: ...
