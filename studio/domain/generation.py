"""Generation: the life of a job and the operations one job model serves."""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"  # accepted and waiting for a worker
    SUBMITTED = "submitted"  # sent to the provider, waiting in its queue
    RUNNING = "running"  # the provider is working on it
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Operation(StrEnum):
    TEXT_TO_IMAGE = "text_to_image"
    VARIATION = "variation"
    REMIX = "remix"
    IMAGE_TO_IMAGE = "image_to_image"
    INPAINT = "inpaint"
    UPSCALE = "upscale"
    REMOVE_BACKGROUND = "remove_background"
