"""From any image, the next one: variations, regenerate, remix, image-to-image, inpaint, outpaint, upscale
and background removal.

Each operation is an ordinary job (`submissions.start_generation`): the same ledger (reserve, settle,
refund), the same worker, progress, cancel and re-attach, priced from its endpoint's provider cost. What
this module adds is the request each operation makes of one of the account's images, and the lineage:
every output records its parent image and the operation that made it.

Every function here takes the account and an image id, and refuses (NotFound) an image that is not the
account's own; bad input (a mask of the wrong size, an upscale too large) is refused before anything is
reserved or stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from studio.adapters.db.models import Image
from studio.domain.credits import Price
from studio.domain.generation import Operation
from studio.domain.iteration import (
    MAX_VARIATIONS,
    VARIATION_STRENGTH,
    Canvas,
    extend,
    to_ratio,
    upscaled,
)
from studio.domain.parameters import Request
from studio.errors import InvalidInput
from studio.services.context import Services
from studio.services.generation import catalogue, inputs, submissions
from studio.services.generation.submissions import Edit
from studio.services.generation.views import JobView

IMAGE_TO_IMAGE = "fal-ai/flux/dev/image-to-image"


@dataclass(frozen=True)
class Step:
    """One operation on one image, as a page asks for it; `request_for` turns it into a job's request."""

    operation: Operation
    image_id: uuid.UUID
    prompt: str = ""
    count: int = 1  # variations
    strength: float | None = None  # a variation close to the image, or image-to-image
    factor: int = 2  # upscale
    mask_png: bytes | None = None  # inpaint: white = repaint
    extend_by: tuple[int, int, int, int] | None = None  # outpaint: left, right, top, bottom
    ratio: str | None = None  # outpaint to an aspect ratio instead
    params: dict[str, Any] = field(default_factory=dict)  # the endpoint's own settings, if changed


def _tool(services: Services, operation: Operation) -> str:
    spec = catalogue.tool(services, operation.value)
    if spec is None:
        raise InvalidInput(f"{operation.label} is switched off: an administrator enables it under Models.")
    return spec.endpoint_id


def _known_request(services: Services, account_id: uuid.UUID, image: Image) -> Request:
    """The exact request that made the image (its job's), or one rebuilt from the image row."""
    if image.job_id is not None:
        known = submissions.job_request(services, account_id, image.job_id)
        if known is not None:
            return known
    params = {k: v for k, v in image.params.items() if k not in ("prompt", "negative_prompt")}
    return Request(image.model_endpoint, image.prompt, image.negative_prompt or "", "None", params)


def request_for(
    services: Services, account_id: uuid.UUID, step: Step, *, keep_mask: bool = True
) -> tuple[Request, Edit, Image]:
    """The request and edit an operation makes of the image, and the image; InvalidInput / NotFound say why
    not. A drawn mask is checked, and stored for the job unless `keep_mask` is off (a price preview)."""
    image = submissions.owned_image(services, account_id, step.image_id)
    request, edit = _made(services, account_id, image, step, keep_mask)
    return request, edit, image


def _made(
    services: Services, account_id: uuid.UUID, image: Image, step: Step, keep_mask: bool
) -> tuple[Request, Edit]:
    image_id = str(image.id)
    op = step.operation
    if op in (Operation.VARIATION, Operation.REGENERATE):
        return _variation(services, account_id, image, step)
    if op is Operation.IMAGE_TO_IMAGE:
        params = step.params | ({"strength": step.strength} if step.strength is not None else {})
        request = Request(_tool_or(services, IMAGE_TO_IMAGE), step.prompt, params=params, image_id=image_id)
        return request, Edit(op)
    if op is Operation.INPAINT:
        if step.mask_png is None:
            raise InvalidInput("Draw a mask over the part of the image to repaint.")
        mask = inputs.read_mask(step.mask_png, image.width, image.height)
        key = inputs.store_mask(services, account_id, mask) if keep_mask else None
        request = Request(_tool(services, op), step.prompt, params=dict(step.params), image_id=image_id)
        return request, Edit(op, {"mask_url": inputs.reference(key or "unsaved.png")}, mask_key=key)
    if op is Operation.OUTPAINT:
        canvas = _canvas(image, step)
        request = Request(_tool(services, op), step.prompt, params=dict(step.params), image_id=image_id)
        return request, Edit(op, canvas.studio_fields((image.width, image.height)))
    if op is Operation.UPSCALE:
        try:
            upscaled(image.width, image.height, step.factor)
        except ValueError as err:
            raise InvalidInput(str(err)) from None
        params = step.params | {"upscale_factor": float(step.factor)}
        return Request(_tool(services, op), "", params=params, image_id=image_id), Edit(op)
    if op is Operation.REMOVE_BACKGROUND:
        return Request(_tool(services, op), "", params=dict(step.params), image_id=image_id), Edit(op)
    raise InvalidInput(f"{op.label} is not an operation on an image.")


def _tool_or(services: Services, endpoint_id: str) -> str:
    catalogue.model_spec(services, endpoint_id)  # InvalidInput when it is switched off
    return endpoint_id


def _canvas(image: Image, step: Step) -> Canvas:
    try:
        if step.ratio:
            return to_ratio(image.width, image.height, step.ratio)
        left, right, top, bottom = step.extend_by or (0, 0, 0, 0)
        return extend(image.width, image.height, left, right, top, bottom)
    except ValueError as err:
        raise InvalidInput(str(err)) from None


def _variation(services: Services, account_id: uuid.UUID, image: Image, step: Step) -> tuple[Request, Edit]:
    """The image's own request with new seeds; or, with a strength, image-to-image from the image at
    that strength with its prompt. Regenerate is the first with one click: the same request, a new seed."""
    if not 1 <= step.count <= MAX_VARIATIONS:
        raise InvalidInput(f"Make 1 to {MAX_VARIATIONS} variations at once; got {step.count}.")
    low, high = VARIATION_STRENGTH
    if step.strength is not None:
        if not low <= step.strength <= high:
            raise InvalidInput(f"A variation's strength is between {low} and {high}; got {step.strength}.")
        params = {"strength": step.strength, "num_images": step.count}
        prompt = step.prompt or image.prompt
        request = Request(_tool_or(services, IMAGE_TO_IMAGE), prompt, params=params, image_id=str(image.id))
        return request, Edit(Operation.VARIATION)
    if image.operation not in (Operation.TEXT_TO_IMAGE, Operation.REMIX, Operation.VARIATION,
                               Operation.REGENERATE, Operation.IMAGE_TO_IMAGE):  # fmt: skip
        raise InvalidInput(
            f"An image made by {Operation(image.operation).label.lower()} has no request to vary: "
            "vary it close to the image (with a strength) instead."
        )
    known = _known_request(services, account_id, image)
    params = {k: v for k, v in known.params.items() if k != "seed"}
    spec = catalogue.model_spec(services, known.model)
    if step.operation is Operation.VARIATION and spec.param("num_images") is not None:
        params["num_images"] = step.count
    request = replace(known, params=params)
    return request, Edit(step.operation, parent_id=image.id)


def price(services: Services, account_id: uuid.UUID, step: Step) -> Price:
    """What the operation would cost (nothing is stored); InvalidInput / InvalidParameters say what is
    wrong first."""
    request, edit, _ = request_for(services, account_id, step, keep_mask=False)
    return submissions.price_of(services, account_id, request, edit)


def start(
    services: Services, account_id: uuid.UUID, step: Step, idempotency_key: str, *, again: bool = False
) -> JobView:
    """Run the operation as a job: reserve its credits, record its parent, queue it."""
    request, edit, image = request_for(services, account_id, step)
    return submissions.start_generation(
        services, account_id, request, idempotency_key, project_id=image.project_id, again=again, edit=edit
    )


def remix(services: Services, account_id: uuid.UUID, image_id: uuid.UUID) -> Request:
    """The request Generate opens with to remix an image: its exact request, the image as reference."""
    image = submissions.owned_image(services, account_id, image_id)
    known = _known_request(services, account_id, image)
    if image.operation in (Operation.UPLOAD, Operation.UPSCALE, Operation.REMOVE_BACKGROUND,
                           Operation.INPAINT, Operation.OUTPAINT):  # fmt: skip
        known = Request(IMAGE_TO_IMAGE, image.prompt)  # nothing to replay: start from the picture itself
    return replace(known, image_id=str(image.id))


def thumbnail_url(services: Services, account_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """The thumbnail of one of the account's images (a remix's reference, an edit's source)."""
    image = submissions.owned_image(services, account_id, image_id)
    return services.files.url(image.thumb_key or image.storage_key)


@dataclass(frozen=True)
class Source:
    """The image an edit page works on: its picture at full size, for drawing a mask over it."""

    id: uuid.UUID
    url: str
    width: int
    height: int
    prompt: str
    parent_id: uuid.UUID | None
    operation: str
    model_endpoint: str


def source(services: Services, account_id: uuid.UUID, image_id: uuid.UUID) -> Source:
    image = submissions.owned_image(services, account_id, image_id)
    files = services.files
    return Source(
        image.id,
        files.url(image.storage_key),
        image.width,
        image.height,
        image.prompt,
        image.parent_image_id,
        image.operation,
        image.model_endpoint,
    )
