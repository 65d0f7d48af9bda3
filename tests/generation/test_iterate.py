"""Every iteration operation on the real stack: a real `python worker.py`, PostgreSQL, Redis, moto S3 and
the fake fal over TLS through the real fal-client (ARCHITECTURE.md "One job model serves every operation").

For each operation: the body the fake received is what the operation promises (the input image's own
bytes, the mask at the image's size, the canvas, the factor), the outputs are stored with a thumbnail, the
parent link, the operation and the exact request, and the credits are reserved and settled, or refunded
when the provider fails. Bad input is refused before anything is reserved or stored.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from redis import Redis

from studio.adapters.db.models import GenerationJob, Image
from studio.domain.generation import JobStatus, Operation
from studio.domain.parameters import Request
from studio.errors import InvalidInput, NotFound
from studio.services.context import Services
from studio.services.generation import inputs, iterate
from studio.services.generation.iterate import Step
from studio.services.generation.submissions import start_generation
from studio.services.library import lineage
from tests.support.builders import new_user
from tests.support.fal_server import FakeFal, Submitted
from tests.support.stack import (
    Running,
    Stack,
    WorkerProcess,
    assert_balanced,
    assert_refunded,
    assert_succeeded,
    job_row,
    small_request,
    wait_finished,
)

FILL = "fal-ai/flux-pro/v1/fill"


@pytest.fixture
def services(shared: Running) -> Iterator[Services]:
    with shared.config.services() as services:
        yield services


def submitted_for(fake: FakeFal, services: Services, job_id: uuid.UUID) -> Submitted:
    request_id = job_row(services, job_id).provider_request_id
    found = [submit for submit in fake.submits if submit.request_id == request_id]
    assert len(found) == 1, request_id
    return found[0]


def decoded(data_uri: str) -> PILImage.Image:
    assert data_uri.startswith("data:image/"), data_uri[:40]
    image = PILImage.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
    image.load()
    return image


def source_image(services: Services, shared: Running, user: uuid.UUID) -> Image:
    """A 512×512 text-to-image output of the user's, made by the pipeline."""
    view = start_generation(services, user, small_request(), uuid.uuid4().hex)
    wait_finished(services, user, view.id, shared.worker)
    (image,) = assert_succeeded(services, user, view.id)
    return image


def run(
    services: Services, shared: Running, user: uuid.UUID, step: Step
) -> tuple[GenerationJob, list[Image]]:
    view = iterate.start(services, user, step, uuid.uuid4().hex)
    wait_finished(services, user, view.id, shared.worker, timeout=30)
    images = assert_succeeded(services, user, view.id)
    return job_row(services, view.id), images


def assert_descends(images: list[Image], job: GenerationJob, parent: Image, operation: Operation) -> None:
    for image in images:
        assert image.parent_image_id == parent.id
        assert image.operation == operation.value
        assert image.params == job.params  # the exact request (image references, never expiring URLs)
    assert job.parent_image_id == parent.id
    assert job.operation == operation.value


def test_each_operation_sends_what_it_promises_and_keeps_the_lineage(
    services: Services, shared: Running, fake_fal: FakeFal
) -> None:
    user = new_user(services, credits=200)
    source = source_image(services, shared, user)
    source_bytes = services.storage.get(source.storage_key)

    # Variation: the same request with new seeds, two at once.
    job, images = run(services, shared, user, Step(Operation.VARIATION, source.id, count=2))
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == source.model_endpoint
    assert body["num_images"] == 2
    assert body["prompt"] == source.prompt
    assert body["seed"] != source.seed
    assert len(images) == 2
    assert_descends(images, job, source, Operation.VARIATION)

    # Variation close to the image: image-to-image at a strength in 0.3-0.7, the image as input.
    job, images = run(services, shared, user, Step(Operation.VARIATION, source.id, strength=0.5))
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == "fal-ai/flux/dev/image-to-image"
    assert body["strength"] == 0.5
    assert body["prompt"] == source.prompt
    assert decoded(body["image_url"]).size == (512, 512)
    assert base64.b64decode(body["image_url"].split(",", 1)[1]) == source_bytes
    assert job.params["image_url"] == inputs.reference(source.storage_key)
    assert job.input_image_ids == [str(source.id)]
    assert_descends(images, job, source, Operation.VARIATION)

    # Regenerate: one click, the same request, a new seed.
    job, images = run(services, shared, user, Step(Operation.REGENERATE, source.id))
    body = submitted_for(fake_fal, services, job.id).body
    assert {k: v for k, v in body.items() if k != "seed"} == {
        k: v for k, v in source.params.items() if k != "seed"
    }
    assert body["seed"] != source.seed
    assert_descends(images, job, source, Operation.REGENERATE)

    # Inpaint: the mask at the image's exact size, white where to repaint, and a prompt.
    mask = PILImage.new("L", (512, 512), 0)
    mask.paste(255, (100, 100, 300, 260))
    out = io.BytesIO()
    mask.save(out, "PNG")
    job, images = run(
        services,
        shared,
        user,
        Step(Operation.INPAINT, source.id, prompt="a red kite", mask_png=out.getvalue()),
    )
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == FILL
    assert body["prompt"] == "a red kite"
    sent_mask = decoded(body["mask_url"])
    assert sent_mask.size == (512, 512)
    assert sent_mask.mode == "L"
    assert sent_mask.getbbox() == (100, 100, 300, 260)
    assert job.mask_key is not None
    assert services.storage.exists(job.mask_key)
    assert (images[0].width, images[0].height) == (512, 512)
    assert_descends(images, job, source, Operation.INPAINT)
    inpainted = images[0]

    # Outpaint: extend left and down; the canvas and where the original sits on it.
    job, images = run(services, shared, user, Step(Operation.OUTPAINT, source.id, extend_by=(128, 0, 0, 64)))
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == "fal-ai/bria/expand"
    assert body["canvas_size"] == [640, 576]
    assert body["original_image_size"] == [512, 512]
    assert body["original_image_location"] == [128, 0]
    assert (images[0].width, images[0].height) == (640, 576)
    assert_descends(images, job, source, Operation.OUTPAINT)

    # Upscale 4× of the inpainted image: a single `image` answer, normalised, priced on the output size.
    job, images = run(services, shared, user, Step(Operation.UPSCALE, inpainted.id, factor=4))
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == "fal-ai/clarity-upscaler"
    assert body["upscale_factor"] == 4.0
    assert (images[0].width, images[0].height) == (2048, 2048)
    assert job.credits_reserved == 2 * 4  # $0.03 per megapixel: 2 credits per MP, on 4 MP
    assert_descends(images, job, inpainted, Operation.UPSCALE)
    assert images[0].prompt == inpainted.prompt  # a tool's output keeps the prompt it descends from

    # Background removal: a transparent PNG, and the mask kept with it.
    job, images = run(services, shared, user, Step(Operation.REMOVE_BACKGROUND, source.id))
    body = submitted_for(fake_fal, services, job.id).body
    assert job.model_endpoint == "fal-ai/birefnet/v2"
    assert body["output_mask"] is True
    assert body["output_format"] == "png"
    (cut,) = images
    with PILImage.open(io.BytesIO(services.storage.get(cut.storage_key))) as picture:
        assert picture.mode == "RGBA"
    assert cut.mask_key is not None
    with PILImage.open(io.BytesIO(services.storage.get(cut.mask_key))) as mask_file:
        assert mask_file.size == (512, 512)
    assert_descends(images, job, source, Operation.REMOVE_BACKGROUND)

    # The family: the source at the root, every output under its parent, each step's diff.
    family = lineage.family(services, user, source.id)
    assert family.root_id == source.id
    by_id = {node.id: node for node in family.nodes}
    assert len(by_id) == 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1
    upscale_node = next(node for node in family.nodes if node.label == "Upscale 4×")
    assert upscale_node.parent_id == inpainted.id
    assert [str(change) for change in upscale_node.changes] == [
        "factor – → 4",
        "model FLUX.1 Fill [pro] → Clarity Upscaler",
        "size 512×512 → 2048×2048",
    ]
    assert lineage.family(services, user, images[0].id).root_id == source.id
    with services.uow() as uow:
        spent = uow.session.scalar(
            sa.select(sa.func.sum(GenerationJob.credits_settled)).where(GenerationJob.owner_id == user)
        )
    assert_balanced(services, user, 200 - int(spent or 0))


def test_a_failed_operation_refunds_its_credits_once(
    services: Services, shared: Running, fake_fal: FakeFal
) -> None:
    user = new_user(services, credits=50)
    source = source_image(services, shared, user)
    fake_fal.configure(FILL, result_error=(500, {"detail": "GPU on fire", "error_type": "internal_error"}))
    try:
        mask = PILImage.new("L", (512, 512), 255)
        out = io.BytesIO()
        mask.save(out, "PNG")
        view = iterate.start(
            services, user, Step(Operation.INPAINT, source.id, prompt="x", mask_png=out.getvalue()), "fail"
        )
        assert view.credits_reserved == 2
        wait_finished(services, user, view.id, shared.worker, timeout=30)
    finally:
        fake_fal.reset()
    job = assert_refunded(services, view.id, JobStatus.FAILED)
    assert "Your 2 credits were returned" in (job.error_message or "")
    assert_balanced(services, user, 50 - 1)  # only the source image's credit is spent


def test_inputs_can_go_as_presigned_urls_the_provider_fetches(
    stack: Stack, fake_fal: FakeFal, redis_conn: Redis
) -> None:
    config = stack.config(provider_inputs="url")
    worker = WorkerProcess(config, stack.workdir)
    try:
        worker.wait_ready(redis_conn)
        with config.services() as services:
            user = new_user(services, credits=20)
            source = source_image(services, Running(config, worker), user)
            view = iterate.start(services, user, Step(Operation.UPSCALE, source.id, factor=2), "url")
            wait_finished(services, user, view.id, worker, timeout=30)
            (image,) = assert_succeeded(services, user, view.id)
            body = submitted_for(fake_fal, services, view.id).body
    finally:
        worker.stop()
    assert body["image_url"].startswith(stack.s3_endpoint)
    assert "X-Amz-Expires=900" in body["image_url"] or "Expires=" in body["image_url"]
    assert httpx.get(body["image_url"]).status_code == 200  # fetchable by whoever holds it, until it expires
    assert (image.width, image.height) == (1024, 1024)


def test_bad_input_is_refused_and_nothing_is_charged_or_stored(services: Services, shared: Running) -> None:
    owner = new_user(services, credits=30)
    stranger = new_user(services, credits=30)
    source = source_image(services, shared, owner)
    before_jobs = _jobs_of(services, stranger)

    with pytest.raises(NotFound):  # another person's image, as a parent or an input
        iterate.start(services, stranger, Step(Operation.UPSCALE, source.id), "theirs")
    with pytest.raises(NotFound):
        iterate.start(services, stranger, Step(Operation.VARIATION, source.id), "theirs-2")
    with pytest.raises(NotFound):  # ... or as the reference of a request
        start_generation(
            services, stranger, Request("fal-ai/flux/dev/image-to-image", "x", image_id=str(source.id)), "ref"
        )
    with pytest.raises(NotFound):
        iterate.start(services, owner, Step(Operation.UPSCALE, uuid.uuid4()), "made-up")

    wrong = io.BytesIO()
    PILImage.new("L", (256, 256), 255).save(wrong, "PNG")
    with pytest.raises(InvalidInput, match="The mask is 256×256 but the image is 512×512"):
        iterate.start(
            services, owner, Step(Operation.INPAINT, source.id, prompt="x", mask_png=wrong.getvalue()), "m1"
        )
    empty = io.BytesIO()
    PILImage.new("L", (512, 512), 0).save(empty, "PNG")
    with pytest.raises(InvalidInput, match="The mask is empty"):
        iterate.start(
            services, owner, Step(Operation.INPAINT, source.id, prompt="x", mask_png=empty.getvalue()), "m2"
        )
    big = inputs.upload(services, owner, _png(4096, 3072))
    with pytest.raises(InvalidInput, match="upscaled 4×"):
        iterate.start(services, owner, Step(Operation.UPSCALE, big, factor=4), "too-big")

    for data, message in [
        (b"MZ\x90\x00 an executable", "not a readable image"),
        (b"\xff" * (50 * 1024 * 1024), "the limit is 20 MB"),
        (_bomb(), "megapixels"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            inputs.upload(services, owner, data)

    assert _jobs_of(services, stranger) == before_jobs == 0
    with services.uow() as uow:
        masks = uow.session.scalar(
            sa.select(sa.func.count()).where(
                GenerationJob.owner_id == owner, GenerationJob.mask_key.is_not(None)
            )
        )
        uploads = uow.session.scalar(
            sa.select(sa.func.count()).where(Image.owner_id == owner, Image.operation == "upload")
        )
    assert masks == 0
    assert uploads == 1  # the 4096×3072 one, which is a fine upload (only its 4× upscale is too big)
    assert_balanced(services, owner, 30 - 1)
    assert_balanced(services, stranger, 30)


def test_an_upload_is_free_and_can_be_edited(services: Services, shared: Running, fake_fal: FakeFal) -> None:
    user = new_user(services, credits=10)
    uploaded = inputs.upload(services, user, _png(300, 200))
    job, images = run(
        services,
        shared,
        user,
        Step(Operation.IMAGE_TO_IMAGE, uploaded, prompt="as an oil painting", strength=0.6),
    )
    body = submitted_for(fake_fal, services, job.id).body
    assert body["strength"] == 0.6
    assert decoded(body["image_url"]).size == (300, 200)
    assert (images[0].width, images[0].height) == (300, 200)
    with services.uow() as uow:
        upload_row = uow.session.get(Image, uploaded)
        assert upload_row is not None
        assert upload_row.credits == 0
        assert upload_row.operation == "upload"
    assert images[0].parent_image_id == uploaded
    assert_balanced(services, user, 10 - 1)


def _jobs_of(services: Services, owner: uuid.UUID) -> int:
    with services.uow() as uow:
        found = uow.session.scalar(sa.select(sa.func.count()).where(GenerationJob.owner_id == owner))
    return int(found or 0)


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    """A tiny PNG that decodes to 20000×20000 pixels."""
    out = io.BytesIO()
    PILImage.new("1", (20000, 20000), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_generate_from_a_reference_sends_it_to_models_that_take_one_and_keeps_it_as_parent(
    services: Services, shared: Running, fake_fal: FakeFal
) -> None:
    """A request with an image id: the input of an image-taking model (face-to-sticker answers three
    images; the studio keeps the cut-out sticker), else the parent of a remix."""
    user = new_user(services, credits=50)
    source = source_image(services, shared, user)
    sticker = start_generation(
        services, user, Request("fal-ai/face-to-sticker", "a person", image_id=str(source.id)), "sticker"
    )
    wait_finished(services, user, sticker.id, shared.worker, timeout=30)
    (made,) = assert_succeeded(services, user, sticker.id)
    body = submitted_for(fake_fal, services, sticker.id).body
    assert decoded(body["image_url"]).size == (512, 512)
    assert (made.operation, made.parent_image_id) == ("image_to_image", source.id)
    with PILImage.open(io.BytesIO(services.storage.get(made.storage_key))) as picture:
        assert picture.mode == "RGBA"  # sticker_image_background_removed, normalised to `images`

    remix = start_generation(services, user, Request(
        source.model_endpoint, "the same lighthouse at noon", params={"image_size": "square"},
        image_id=str(source.id),
    ), "remix")  # fmt: skip
    wait_finished(services, user, remix.id, shared.worker, timeout=30)
    (remixed,) = assert_succeeded(services, user, remix.id)
    body = submitted_for(fake_fal, services, remix.id).body
    assert "image_url" not in body  # a text-to-image model: the reference is the parent only
    assert (remixed.operation, remixed.parent_image_id) == ("remix", source.id)
