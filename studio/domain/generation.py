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
    """What made an image: every job runs one, and every image keeps the one that made it."""

    TEXT_TO_IMAGE = "text_to_image"
    VARIATION = "variation"  # the same request with new seeds, or close to an image (image-to-image)
    REGENERATE = "regenerate"  # the same request with a new seed, one click
    REMIX = "remix"  # a request changed in the Generate form, starting from an image
    IMAGE_TO_IMAGE = "image_to_image"
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"
    UPSCALE = "upscale"
    REMOVE_BACKGROUND = "remove_background"
    UPLOAD = "upload"  # an image someone brought in: no job, no credits

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Operation.TEXT_TO_IMAGE: "Text to image",
    Operation.VARIATION: "Variation",
    Operation.REGENERATE: "Regenerate",
    Operation.REMIX: "Remix",
    Operation.IMAGE_TO_IMAGE: "Image to image",
    Operation.INPAINT: "Inpaint",
    Operation.OUTPAINT: "Outpaint",
    Operation.UPSCALE: "Upscale",
    Operation.REMOVE_BACKGROUND: "Background removed",
    Operation.UPLOAD: "Upload",
}


def operation_label(value: str) -> str:
    """The label of a stored operation name (a name no longer known is shown as it is)."""
    try:
        return Operation(value).label
    except ValueError:
        return value
