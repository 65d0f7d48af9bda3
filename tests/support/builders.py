"""Making what tests start from: accounts (the one way to make a user), credits, jobs and images (rows, and
real files where a test reads them), and reading a ledger back."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from PIL import Image as PILImage
from PIL import ImageDraw

from studio.adapters.db import SqlUnitOfWork
from studio.adapters.db.models import CreditLedger, GenerationJob, Image, ImageTag, User, utcnow
from studio.domain.accounts import Account
from studio.domain.credits import LedgerKind
from studio.services.accounts import signup
from studio.services.billing import ledger, plans
from studio.services.context import Services
from studio.services.generation.outputs import inspect

T0 = datetime.fromisoformat("2026-03-01T12:00:00+00:00")


class HasUnitsOfWork(Protocol):
    """The services, or a bare Database."""

    def uow(self) -> SqlUnitOfWork: ...


def new_user(
    target: HasUnitsOfWork,
    name: str | None = None,
    *,
    tagged: bool = False,
    role: str = "user",
    verified: bool = True,
    free_plan: bool = False,
    credits: int = 0,
    **fields: Any,
) -> uuid.UUID:
    """A user row, committed (so worker processes see it). `name` is the username and the address
    `name@example.org`; without one, or with `tagged`, a random tag keeps them unique. `free_plan` starts its
    free cycle with the plan's credits; `credits` grants that many more."""
    tag = uuid.uuid4().hex
    base = name or f"u{tag[:10]}"
    fields.setdefault("email", f"{base}-{tag[:8]}@example.org" if tagged else f"{base}@example.org")
    fields.setdefault("username", f"{base}{tag[:8]}" if tagged else base)
    fields.setdefault("name", base.title())
    fields.setdefault("email_verified_at", utcnow() if verified else None)
    with target.uow() as uow:
        user = User(role=role, **fields)
        uow.users.add(user)
        if free_plan:
            plans.start_free_plan(uow.session, user.id)
        if credits:
            ledger.change_balance(
                uow.session, user.id, credits, LedgerKind.GRANT, "Test credits", ref_type="test", ref_id=tag
            )
        uow.commit()
        return user.id


def signed_up(services: Services, name: str, password: str, *, tagged: bool = False) -> Account:
    """An account made through sign-up, as a person makes one (its verification mail goes out)."""
    username = f"{name}{uuid.uuid4().hex[:8]}" if tagged else name
    return signup.register(
        services,
        email=f"{username}@example.org",
        username=username,
        name=name.title(),
        password=password,
        repeat=password,
    )


def ledger_rows(
    services: Services, user_id: uuid.UUID | None = None, *, job_id: uuid.UUID | None = None
) -> list[tuple[str, int]]:
    """(kind, delta) of each ledger row of the account (or of one job), oldest first."""
    whose = CreditLedger.job_id == job_id if job_id is not None else CreditLedger.user_id == user_id
    with services.uow() as uow:
        rows = uow.session.execute(
            sa.select(CreditLedger.kind, CreditLedger.delta)
            .where(whose)
            .order_by(CreditLedger.created_at, CreditLedger.id)
        )
        return [(kind, delta) for kind, delta in rows]


def ledger_counts(services: Services, user_id: uuid.UUID) -> Counter[tuple[str, int]]:
    """The account's ledger rows as (kind, delta), counted: where time stands still, rows written in one
    transaction share their timestamp and have no order."""
    return Counter(ledger_rows(services, user_id))


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


def charge(services: Services, user_id: uuid.UUID, model: str, held: int, refunded: int = 0) -> None:
    """A job of `model` that held `held` credits and got `refunded` of them back."""
    with services.uow() as uow:
        job = GenerationJob(
            owner_id=user_id, operation="text_to_image", model_endpoint=model, params={}, prompt="p",
            idempotency_key=uuid.uuid4().hex, provider="demo", status="succeeded", num_images=1,
            credits_reserved=held,
        )  # fmt: skip
        uow.session.add(job)
        uow.session.flush()
        ledger.change_balance(uow.session, user_id, -held, LedgerKind.RESERVE, "held", job_id=job.id)
        if refunded:
            ledger.change_balance(uow.session, user_id, refunded, LedgerKind.REFUND, "back", job_id=job.id)
        uow.commit()


def demo_user(services: Services) -> uuid.UUID:
    with services.uow() as uow:
        user = uow.users.get_by_email("demo@studio.local")
        assert isinstance(user, User)
        return user.id
