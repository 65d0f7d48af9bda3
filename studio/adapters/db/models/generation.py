"""The model catalogue, generation jobs, usage logs and prompts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from studio.adapters.db.models.base import (
    JOB_STATUSES,
    PRICE_UNITS,
    Base,
    created_column,
    id_column,
    one_of,
    owner_column,
    updated_column,
)


class CatalogueModel(Base):
    """One provider endpoint the studio can run, with its parameter schema and prices."""

    __tablename__ = "models"
    __table_args__ = (
        sa.CheckConstraint(one_of("price_unit", PRICE_UNITS), name="price_unit"),
        sa.CheckConstraint("credit_cost >= 0", name="credit_cost_not_negative"),
    )

    id: Mapped[uuid.UUID] = id_column()
    endpoint_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    category: Mapped[str] = mapped_column(sa.String(32))
    capabilities: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    params_schema: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    price_micros: Mapped[int]  # provider price in millionths of a US dollar per price_unit
    price_unit: Mapped[str] = mapped_column(sa.String(16))
    credit_cost: Mapped[int]  # credits per standard image
    speed_hint: Mapped[str | None] = mapped_column(sa.String(16))
    quality_hint: Mapped[str | None] = mapped_column(sa.String(16))
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    is_featured: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class GenerationJob(Base):
    """One request to a provider, from acceptance to stored images (or a refund)."""

    __tablename__ = "generation_jobs"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", JOB_STATUSES), name="status"),
        sa.CheckConstraint("credits_reserved >= 0", name="credits_reserved_not_negative"),
        sa.UniqueConstraint("owner_id", "idempotency_key"),
        sa.Index(None, "owner_id", "status"),
        sa.Index(None, "owner_id", "created_at"),
        sa.Index(None, "owner_id", "fingerprint", "created_at"),
        sa.Index(None, "status", "deadline_at"),
        sa.Index(None, "status", "heartbeat_at"),
        sa.Index(None, "provider_request_id"),
        sa.Index(None, "batch_id", "batch_row"),
        sa.Index(None, "created_at"),
        # The fair queue: what waits (not dispatched) and what each owner has in flight.
        sa.Index(None, "status", "dispatched_at"),
        sa.Index(None, "owner_id", "dispatched_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    operation: Mapped[str] = mapped_column(sa.String(32), default="text_to_image")
    model_endpoint: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # exactly what is sent to the provider
    request: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")  # the form, for recall
    result: Mapped[dict[str, Any] | None]  # the provider's output, stored the moment it is fetched
    prompt: Mapped[str] = mapped_column(sa.Text, default="")
    input_image_ids: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    mask_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    parent_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    mask_key: Mapped[str | None] = mapped_column(sa.String(512))  # the drawn mask an inpainting sent
    project_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # a Batch's id
    batch_row: Mapped[int | None]  # the batch's row this job runs (a retried row has a newer job)
    fallback_endpoint: Mapped[str | None] = mapped_column(sa.String(200))  # reruns there once on failure
    fallback_of_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # the failed job this one reran
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    idempotency_key: Mapped[str] = mapped_column(sa.String(128))
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))  # of the form sent: a repeat is one job
    provider: Mapped[str] = mapped_column(sa.String(16))
    provider_request_id: Mapped[str | None] = mapped_column(sa.String(128))
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")
    queue_position: Mapped[int | None]
    progress: Mapped[float] = mapped_column(default=0.0, server_default="0")
    logs: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    error_code: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    num_images: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    credits_reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    credits_settled: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = created_column()
    submitted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the worker holding the job writes this while it waits
    submitting_at: Mapped[datetime | None]  # this attempt's worker began sending it: a request may exist
    dispatched_at: Mapped[datetime | None]  # the fair queue let it go to a worker (studio...generation.fair)
    deadline_at: Mapped[datetime | None]  # set when it is dispatched: waiting its turn never times out
    cancel_requested_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = updated_column()


class Batch(Base):
    """Many jobs made in one go (a row each): their shared queue control and the form they came from."""

    __tablename__ = "batches"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "idempotency_key"),
        sa.Index(None, "owner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(16))  # lines, csv, template, seeds, matrix
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the batch's parameters (a Request)
    rows: Mapped[int] = mapped_column(default=0, server_default="0")
    images: Mapped[int] = mapped_column(default=0, server_default="0")
    credits: Mapped[int] = mapped_column(default=0, server_default="0")  # reserved when it was made
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    fallback_endpoint: Mapped[str | None] = mapped_column(sa.String(200))
    run_at: Mapped[datetime | None]  # scheduled: nothing is dispatched before
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    idempotency_key: Mapped[str] = mapped_column(sa.String(128))
    paused_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class UsageLog(Base):
    """One row per finished job: what it used, what it cost, how long it took."""

    __tablename__ = "usage_logs"
    __table_args__ = (
        sa.Index(None, "user_id", "created_at"),
        sa.Index(None, "created_at"),
        sa.Index(None, "model_endpoint", "created_at"),
        # Covers the latency sample of the admin analytics: the newest succeeded run times of a model.
        sa.Index(None, "model_endpoint", "outcome", "created_at", "run_ms"),
    )

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = owner_column()
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("generation_jobs.id", ondelete="SET NULL"))
    model_endpoint: Mapped[str] = mapped_column(sa.String(200))
    operation: Mapped[str] = mapped_column(sa.String(32))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    images: Mapped[int] = mapped_column(default=0, server_default="0")
    megapixels: Mapped[float] = mapped_column(default=0.0, server_default="0")
    credits: Mapped[int] = mapped_column(default=0, server_default="0")
    provider_cost_micros: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    queue_wait_ms: Mapped[int | None]
    run_ms: Mapped[int | None]
    created_at: Mapped[datetime] = created_column()


class Prompt(Base):
    """A prompt in a user's library: text (maybe a template), its negative prompt, how it is filed; public
    ones are browsed and copied by anyone signed in."""

    __tablename__ = "prompts"
    __table_args__ = (
        sa.Index(None, "owner_id", "last_used_at"),
        sa.Index(None, "owner_id", "updated_at"),
        sa.Index(None, "is_public", "published_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    text: Mapped[str] = mapped_column(sa.Text)
    text_hash: Mapped[str] = mapped_column(sa.String(64))
    negative_prompt: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    category: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    tags: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    is_starred: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # the favourite
    use_count: Mapped[int] = mapped_column(default=0, server_default="0")
    is_public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    published_at: Mapped[datetime | None]
    unpublished_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # the admin who took it down
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class WildcardList(Base):
    """A named list a template draws from with `__name__`."""

    __tablename__ = "wildcard_lists"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(64))
    entries: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class StyleModifier(Base):
    """A quick-add chip of Generate: the studio's (no owner, curated by admins) or a user's own. Its text
    wraps the prompt when it holds `{prompt}`, else is appended after ", "."""

    __tablename__ = "style_modifiers"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"), sa.Index(None, "owner_id", "sort_order"))

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(64))
    text: Mapped[str] = mapped_column(sa.Text)
    negative_prompt: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    category: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = created_column()


class Preset(Base):
    """A named generation preset: a model and its parameters (LoRAs included), maybe a prompt."""

    __tablename__ = "presets"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(100))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)  # a Request (studio.domain.parameters)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
