"""The worker side of the generation pipeline (ARCHITECTURE.md steps 2 and 3; step 5 is `reconciler`).

`JobRun` takes only a job id and an attempt number. It claims the row, submits to the provider and stores
the request id at once (or re-attaches to the stored one), polls status into the row, fetches and stores the
result the moment it is ready, keeps every output with a WebP thumbnail, then settles the credits; on any
failure it refunds them exactly once. Every step is idempotent: a finished job is never touched again, and
a newer attempt (dispatched by the reconciler) makes an older one stand down.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import GenerationJob, Image, utcnow
from studio.adapters.provider import Provider, ProviderStatus
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.generation import JobStatus
from studio.errors import ConfigError, ProviderError, ProviderFailure, StudioError
from studio.services.context import Services
from studio.services.generation import fair, inputs, lifecycle, submissions
from studio.services.generation.outputs import (
    Output,
    check_output,
    has_omitted_data,
    inspect,
    mask_url,
    without_inline_data,
)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # at most; a third of JOB_STALE_SECONDS when that is shorter
REPORT_SECONDS = 0.5  # progress and logs reach the job row at most this often; cancellation is seen as fast
_STEP = re.compile(r"(\d+)\s*/\s*(\d+)")


class _Stop(Exception):
    """The row no longer belongs to this attempt."""


@dataclass(frozen=True)
class _Claim:
    job_id: uuid.UUID
    attempt: int
    owner_id: uuid.UUID
    endpoint: str
    params: dict[str, Any]
    provider: str
    request_id: str | None
    result: dict[str, Any] | None
    accepted: datetime
    deadline: datetime


# --- the job --------------------------------------------------------------------------------------------


class JobRun:
    """One attempt at one job, on a worker."""

    def __init__(self, services: Services, job_id: uuid.UUID, attempt: int) -> None:
        self.services = services
        self.job_id = job_id
        self.attempt = attempt
        self.last_written: tuple[Any, ...] = (None, None, None, None)
        self.last_beat = 0.0
        self.last_touch = 0.0  # when this run last read or wrote the job row
        self.beat_every = min(HEARTBEAT_SECONDS, services.settings.job_stale_seconds / 3)
        self.handed_on = False  # the fair queue was given this job's slot already (`store_result`)

    # small transactions on the job row

    def _locked(self, session: Session) -> GenerationJob:
        job = lifecycle.lock(session, self.job_id)
        if job is None:
            raise _Stop
        return job

    def _owned_row(self, session: Session) -> GenerationJob:
        """The locked row, or _Stop when it is finished or belongs to a newer attempt."""
        job = self._locked(session)
        if JobStatus(job.status).finished or job.attempts != self.attempt:
            raise _Stop
        return job

    def claim(self) -> _Claim | None:
        with self.services.uow() as uow:
            job = lifecycle.lock(uow.session, self.job_id)
            if job is None or JobStatus(job.status).finished or job.attempts != self.attempt:
                return None
            if job.cancel_requested_at is not None and job.provider_request_id is None:
                lifecycle.resolve(
                    uow.session, job, JobStatus.CANCELLED, "cancelled", "Cancelled before it started."
                )
                uow.commit()
                return None
            sending = job.provider_request_id is None and (job.result is None or has_omitted_data(job.result))
            lifecycle.claim(job, sending=sending)
            assert job.deadline_at is not None
            claim = _Claim(
                job.id,
                self.attempt,
                job.owner_id,
                job.model_endpoint,
                dict(job.params),
                job.provider,
                job.provider_request_id,
                job.result,
                job.dispatched_at or job.created_at,
                job.deadline_at,
            )
            uow.commit()
        return claim

    def fail(self, code: str, message: str, status: JobStatus = JobStatus.FAILED) -> None:
        """End the job with a refund, unless a newer attempt holds it (that attempt decides); a job the
        provider failed then runs once on its fallback model, if it has one."""
        with self.services.uow() as uow:
            job = self._locked(uow.session)
            if job.attempts != self.attempt:
                log.info(
                    "job %s attempt %d: superseded, leaving %s to the newer attempt",
                    job.id,
                    self.attempt,
                    code,
                )
                return
            if not lifecycle.resolve(uow.session, job, status, code, message):
                return
            uow.commit()
        if code in submissions.FALLBACK_CODES:
            submissions.fall_back(self.services, self.job_id)

    def store_request_id(self, request_id: str) -> bool:
        """Write the provider's request id before anything waits on it; False if the job ended or a newer
        attempt took it over meanwhile (that attempt has, or sends, its own request)."""
        with self.services.uow() as uow:
            job = self._locked(uow.session)
            if JobStatus(job.status).finished or job.attempts != self.attempt:
                return False
            lifecycle.submitted(job, request_id)
            uow.commit()
        log.info("job submitted job=%s request=%s attempt=%d", self.job_id, request_id, self.attempt)
        return True

    def report(self, status: ProviderStatus, expected_seconds: float, running_since: float | None) -> bool:
        """Bring the job row up to date and say whether cancellation was asked for.

        A change of state or queue position is written at once; logs and progress at most every
        REPORT_SECONDS (or with the heartbeat); in between the row is not touched at all, so a poll costs
        the database nothing. Cancellation is therefore seen within REPORT_SECONDS."""
        state = JobStatus.RUNNING if status.state == "running" else JobStatus.SUBMITTED
        progress = _progress(status, expected_seconds, running_since)
        now = time.monotonic()
        moved = (state, status.queue_position) != self.last_written[:2]
        detail = (round(progress, 2), len(status.logs)) != self.last_written[2:]
        if not moved and now - self.last_touch < REPORT_SECONDS:
            return False
        beat_due = now - self.last_beat >= self.beat_every
        with self.services.uow() as uow:
            if not (moved or detail or beat_due):
                row = uow.session.execute(
                    sa.select(
                        GenerationJob.status, GenerationJob.attempts, GenerationJob.cancel_requested_at
                    ).where(GenerationJob.id == self.job_id)
                ).one_or_none()
                if row is None or JobStatus(row.status).finished or row.attempts != self.attempt:
                    raise _Stop
                self.last_touch = now
                return row.cancel_requested_at is not None
            job = self._owned_row(uow.session)
            position = status.queue_position if status.state == "queued" else None
            lifecycle.progressed(job, state, position, progress, status.logs)
            cancel = job.cancel_requested_at is not None
            uow.commit()
        self.last_written = (state, status.queue_position, round(progress, 2), len(status.logs))
        self.last_beat = self.last_touch = now
        return cancel

    def beat(self) -> None:
        with self.services.uow() as uow:
            lifecycle.beat(self._owned_row(uow.session))
            uow.commit()
        self.last_beat = time.monotonic()

    @contextmanager
    def beating(self) -> Iterator[None]:
        """While a provider call blocks this thread (a submit fal holds), another thread keeps the job's
        heartbeat: a live worker is never taken for a dead one, and a dead one is seen within
        JOB_STALE_SECONDS."""
        done = threading.Event()

        def keep() -> None:
            while not done.wait(self.beat_every):
                try:
                    self.beat()
                except _Stop:
                    return
                except Exception:  # the call in the main thread decides the job's fate, not this
                    log.exception("heartbeat of job %s failed", self.job_id)

        keeper = threading.Thread(target=keep, name=f"beat-{self.job_id}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()

    def store_result(self, result: dict[str, Any], logs: list[str]) -> None:
        """Keep the provider's result; the job is done at the provider, so the fair queue hands its slot
        on now, while this worker downloads and stores the images."""
        kept = without_inline_data(result)
        with self.services.uow() as uow:
            lifecycle.result_stored(self._owned_row(uow.session), kept, logs)
            uow.commit()
        fair.soon(self.services)
        self.handed_on = True

    # the steps

    def run(self) -> None:
        claim = self.claim()
        if claim is None:
            log.info("job %s attempt %d: nothing to do", self.job_id, self.attempt)
            return
        try:
            provider = self.services.make_provider(claim.provider)
        except ConfigError as err:
            log.error("job %s cannot run: %s", self.job_id, err)
            self.fail("config", "The image service is not configured. An administrator needs to fix this.")
            return
        try:
            self._drive(claim, provider)
        except _Stop:
            log.info("job %s attempt %d stands down: finished or superseded", self.job_id, self.attempt)
        except ProviderError as err:
            self._provider_failed(claim, err)
        finally:
            provider.close()

    def _provider_failed(self, claim: _Claim, err: ProviderError) -> None:
        if err.code is ProviderFailure.AUTH:
            log.error("provider configuration error on job %s: %s", claim.job_id, err)
            message = (
                "The image service refused the studio's credentials. An administrator needs to fix this."
            )
        elif err.code is ProviderFailure.INVALID:
            message = f"The model refused these parameters: {err}"
        elif err.code is ProviderFailure.UNAVAILABLE:
            message = f"The image service is unavailable right now ({err})."
        elif err.code is ProviderFailure.BAD_OUTPUT:
            message = f"The image service returned an unusable result ({err})."
        else:
            message = f"The image service failed: {err}"
        log.warning("job %s failed: %s (%s)", claim.job_id, err, err.code)
        self.fail(err.code.value, message)

    def _drive(self, claim: _Claim, provider: Provider) -> None:
        result = claim.result
        if result is None or has_omitted_data(result):
            request_id = claim.request_id or self._submit(claim, provider)
            if request_id is None:
                return
            final = self._wait(claim, provider, request_id)
            if final is None:
                return
            result = provider.result(claim.endpoint, request_id)
            check_output(result)
            self.store_result(result, final.logs)
        outputs = self._download(provider, result)
        mask = mask_url(result)
        self._complete(claim, result, outputs, provider.download(mask)[0] if mask else None)

    def _submit(self, claim: _Claim, provider: Provider) -> str | None:
        if utcnow() > claim.deadline:
            self.fail("timeout", "The job waited too long for a worker.")
            return None
        with self.beating():
            # Stored images go as fresh presigned URLs or data: URIs, made now: never an expired link.
            request_id = provider.submit(claim.endpoint, inputs.resolve(self.services, claim.params))
        if not self.store_request_id(request_id):
            cancel_quietly(provider, claim.endpoint, request_id)
            return None
        return request_id

    def _wait(self, claim: _Claim, provider: Provider, request_id: str) -> ProviderStatus | None:
        """Poll until the provider is done (its last status); None when the job was cancelled or timed
        out instead."""
        spec = BY_ENDPOINT.get(claim.endpoint)
        expected = spec.expected_seconds if spec else 10.0
        poll = self.services.settings.provider_poll_seconds
        running_since: float | None = None
        next_poll = time.monotonic()
        while True:
            next_poll += poll  # a steady rate: the time a poll takes does not stretch the interval
            try:
                status: ProviderStatus | None = provider.status(claim.endpoint, request_id)
            except ProviderError as err:
                if not err.retryable:
                    raise
                log.warning("status of job %s failed, polling on: %s", claim.job_id, err)
                status = None
            if status is not None and status.state == "completed":
                return status  # even past the deadline: a finished result is fetched, not thrown away
            if utcnow() > claim.deadline:
                cancel_quietly(provider, claim.endpoint, request_id)
                limit = round((claim.deadline - claim.accepted).total_seconds())
                self.fail(
                    "timeout",
                    f"The image service did not finish within {limit} s.",
                )
                return None
            if status is None:
                if time.monotonic() - self.last_beat >= self.beat_every:
                    self.beat()  # still holding the job while the provider's status endpoint is down
                time.sleep(min(2.0, poll * 10))
                next_poll = time.monotonic()
                continue
            if status.state == "running" and running_since is None:
                running_since = time.monotonic()
            if self.report(status, expected, running_since):
                cancel_quietly(provider, claim.endpoint, request_id)
                self.fail("cancelled", "Cancelled.", JobStatus.CANCELLED)
                return None
            delay = next_poll - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_poll = time.monotonic()  # fell behind (a slow poll): start counting again

    def _download(self, provider: Provider, result: dict[str, Any]) -> list[Output]:
        outputs = []
        for item in result["images"]:
            data, _ = provider.download(item["url"])
            outputs.append(inspect(data))
            if time.monotonic() - self.last_beat >= self.beat_every:
                self.beat()
        return outputs

    def _complete(
        self, claim: _Claim, result: dict[str, Any], outputs: list[Output], mask: bytes | None
    ) -> None:
        storage = self.services.storage
        keys = []
        for index, output in enumerate(outputs):
            base = f"users/{claim.owner_id}/images/{claim.job_id}-{index}"
            thumb = f"users/{claim.owner_id}/thumbs/{claim.job_id}-{index}.webp"
            storage.put(f"{base}.{output.extension}", output.data, output.content_type)
            storage.put(thumb, output.thumbnail, "image/webp")
            keys.append((f"{base}.{output.extension}", thumb))
        mask_key = None
        if mask is not None:  # a background removal's cut-out mask, kept with its image
            checked = inspect(mask)
            mask_key = f"users/{claim.owner_id}/images/{claim.job_id}-0-mask.{checked.extension}"
            storage.put(mask_key, checked.data, checked.content_type)
        nsfw_flags = result.get("has_nsfw_concepts") or []
        with self.services.uow() as uow:
            job = self._owned_row(uow.session)
            if job.cancel_requested_at is not None:
                lifecycle.resolve(uow.session, job, JobStatus.CANCELLED, "cancelled", "Cancelled.")
                uow.commit()
                return
            request = job.request or {}
            seed = result.get("seed", job.params.get("seed"))
            per_image = job.credits_reserved // max(job.num_images, 1)
            images = []
            for index, (output, (key, thumb)) in enumerate(zip(outputs, keys, strict=True)):
                nsfw = bool(nsfw_flags[index]) if index < len(nsfw_flags) else False
                image = Image(
                    owner_id=job.owner_id,
                    job_id=job.id,
                    project_id=job.project_id,
                    parent_image_id=job.parent_image_id,
                    operation=job.operation,
                    prompt=job.prompt,
                    negative_prompt=request.get("negative_prompt") or None,
                    model_endpoint=job.model_endpoint,
                    params=dict(job.params),
                    seed=int(seed) if isinstance(seed, int) else None,
                    width=output.width,
                    height=output.height,
                    content_type=output.content_type,
                    byte_size=len(output.data),
                    storage_key=key,
                    thumb_key=thumb,
                    mask_key=mask_key if index == 0 else None,
                    phash=output.phash,
                    nsfw=nsfw,
                    provider_request_id=job.provider_request_id,
                    credits=0 if nsfw else per_image,  # a blocked image is not charged
                    timings=dict(result.get("timings") or {}),
                )
                uow.session.add(image)
                images.append(image)
            lifecycle.succeed(uow.session, job, images)
            uow.commit()


def _progress(status: ProviderStatus, expected_seconds: float, running_since: float | None) -> float:
    if status.state == "queued":
        return 0.02
    for line in reversed(status.logs):
        match = _STEP.search(line)
        if match and int(match[2]) > 0:
            return 0.05 + 0.85 * min(1.0, int(match[1]) / int(match[2]))
    if running_since is None:
        return 0.05
    return 0.05 + 0.85 * min(1.0, (time.monotonic() - running_since) / max(expected_seconds, 0.5))


def cancel_quietly(provider: Provider, endpoint: str, request_id: str) -> None:
    try:
        provider.cancel(endpoint, request_id)
    except StudioError as err:
        log.warning("could not cancel %s at the provider: %s", request_id, err)
