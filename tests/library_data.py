"""Seeding libraries for the tests: accounts and images (rows, and real files where a test reads them)."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from typing import Any

from PIL import Image as PILImage
from PIL import ImageDraw

from studio.adapters.db.models import Image, ImageTag, User, utcnow
from studio.services.context import Services
from studio.services.generation.outputs import inspect

T0 = datetime.fromisoformat("2026-03-01T12:00:00+00:00")


def new_user(services: Services, name: str, role: str = "user") -> uuid.UUID:
    with services.uow() as uow:
        user = User(
            email=f"{name}-{uuid.uuid4().hex[:8]}@example.org",
            username=f"{name}{uuid.uuid4().hex[:8]}",
            name=name.title(),
            role=role,
            email_verified_at=utcnow(),
        )
        uow.users.add(user)
        uow.commit()
        return user.id


def picture(seed: int, size: tuple[int, int] = (64, 64), shift: int = 0) -> bytes:
    """A PNG with a distinct pattern per seed; `shift` nudges one shape a little (a near-duplicate)."""
    image = PILImage.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(image)
    w, h = size
    for i in range(4):
        x = (seed * (i + 3) * 37) % w
        y = (seed * (i + 5) * 29) % h
        colour = ((seed * (i + 1) * 71) % 256, (i * 80) % 256, (seed * 13 + i * 50) % 256)
        draw.rectangle([x, y, x + w // 3, y + h // 3], fill=colour)
    if shift:
        draw.point((shift % w, shift % h), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_image(
    services: Services,
    owner_id: uuid.UUID,
    *,
    prompt: str = "a quiet harbour",
    model: str = "fal-ai/flux/schnell",
    created_at: datetime | None = None,
    width: int = 1024,
    height: int = 1024,
    tags: tuple[str, ...] = (),
    files: bool = False,
    data: bytes | None = None,
    **fields: Any,
) -> uuid.UUID:
    """One image row; with `files` (or `data`) its original and thumbnail are stored and its phash set."""
    image_id = fields.pop("id", None) or uuid.uuid4()
    key = f"users/{owner_id}/images/{image_id.hex}.png"
    thumb = f"users/{owner_id}/thumbs/{image_id.hex}.webp"
    size = 1000
    if files or data is not None:
        output = inspect(data if data is not None else picture(int(image_id.int % 997)))
        services.storage.put(key, output.data, output.content_type)
        services.storage.put(thumb, output.thumbnail, "image/webp")
        fields.setdefault("phash", output.phash)
        size = len(output.data)
    with services.uow() as uow:
        uow.session.add(
            Image(
                id=image_id,
                owner_id=owner_id,
                prompt=prompt,
                model_endpoint=model,
                params={"prompt": prompt, "seed": 7},
                seed=7,
                width=width,
                height=height,
                content_type="image/png",
                byte_size=fields.pop("byte_size", size),
                storage_key=key,
                thumb_key=thumb,
                created_at=created_at or utcnow(),
                **fields,
            )
        )
        uow.session.add_all(ImageTag(image_id=image_id, tag=tag, owner_id=owner_id) for tag in tags)
        uow.commit()
    return image_id


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)
