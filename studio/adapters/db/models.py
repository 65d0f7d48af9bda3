"""The studio's tables as SQLAlchemy 2 typed models.

UUID keys, aware UTC timestamps, JSON on SQLite and JSONB on PostgreSQL. The schema itself changes only
through the Alembic migrations in `studio/migrations`; a test checks that they and these models agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from studio.adapters.db.types import NAMING_CONVENTION, JSONType, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


ROLES = ("user", "admin")
TOKEN_PURPOSES = ("verify_email", "reset_password", "change_email")
JOB_STATUSES = ("queued", "submitted", "running", "succeeded", "failed", "cancelled")
LEDGER_KINDS = ("grant", "reserve", "settle", "refund", "adjust", "expire")
SHARE_TARGETS = ("image", "project", "collection")
PRICE_UNITS = ("image", "megapixel", "second")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow, server_default=sa.func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(default=utcnow, onupdate=utcnow, server_default=sa.func.now())


def _owner(ondelete: str = "CASCADE") -> Mapped[uuid.UUID]:
    return mapped_column(sa.ForeignKey("users.id", ondelete=ondelete))


# --- accounts -------------------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(_in("role", ROLES), name="role"),
        sa.CheckConstraint("credit_balance >= 0", name="credit_balance_not_negative"),
        sa.Index(None, "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # stored lower-case
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))  # None: signs in through OIDC only
    role: Mapped[str] = mapped_column(sa.String(16), default="user", server_default="user")
    email_verified_at: Mapped[datetime | None]
    # Bumped to revoke every session of the user (sign out everywhere, password change, disable).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # A cache of the ledger sum, changed only in the same transaction as a ledger row.
    credit_balance: Mapped[int] = mapped_column(default=0, server_default="0")
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    avatar_key: Mapped[str | None] = mapped_column(sa.String(512))
    totp_secret: Mapped[str | None] = mapped_column(sa.String(128))
    totp_enabled_at: Mapped[datetime | None]
    recovery_codes: Mapped[list[Any] | None]  # hashes of unused two-factor recovery codes
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(sa.String(16), default="system", server_default="system")
    default_model: Mapped[str | None] = mapped_column(sa.String(200))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    email_notifications: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    updated_at: Mapped[datetime] = _updated()


class EmailToken(Base):
    """A one-time link sent by mail; only a hash of the token is stored."""

    __tablename__ = "email_tokens"
    __table_args__ = (
        sa.CheckConstraint(_in("purpose", TOKEN_PURPOSES), name="purpose"),
        sa.Index(None, "user_id", "purpose"),
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    purpose: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))  # the address being verified
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (sa.Index(None, "user_id"),)

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)  # shown to the user, used for lookup
    key_hash: Mapped[str] = mapped_column(sa.String(128))
    scopes: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()


class AuditLog(Base):
    """Every admin action: who, what, before, after, when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index(None, "created_at"),
        sa.Index(None, "actor_id", "created_at"),
        sa.Index(None, "target_type", "target_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()


# --- plans and credits ----------------------------------------------------------------------------------


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        sa.CheckConstraint("monthly_credits >= 0", name="monthly_credits_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[uuid.UUID] = _id()
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    monthly_credits: Mapped[int]
    price_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd", server_default="usd")
    stripe_price_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Subscription(Base):
    """The current plan of one user and its billing cycle (free plans have a cycle too)."""

    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(sa.String(24), default="active", server_default="active")
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    payment_failed_at: Mapped[datetime | None]
    usage_alert_level: Mapped[int] = mapped_column(
        default=0, server_default="0"
    )  # % already mailed this cycle
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class CreditLedger(Base):
    """Append-only: rows are inserted, never updated or deleted. The balance is their sum."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
        sa.CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        sa.Index(None, "user_id", "created_at"),
        sa.Index(None, "job_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    delta: Mapped[int]
    balance_after: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(200))
    ref_type: Mapped[str | None] = mapped_column(sa.String(32))  # job, stripe_event, admin, plan ...
    ref_id: Mapped[str | None] = mapped_column(sa.String(128))
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("generation_jobs.id", ondelete="SET NULL"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Makes "exactly once" a database rule: e.g. one refund per job, one grant per invoice.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = _created()


class StripeEvent(Base):
    """Every webhook event received, recorded under Stripe's id before it is handled."""

    __tablename__ = "stripe_events"
    __table_args__ = (sa.Index(None, "type", "received_at"),)

    id: Mapped[uuid.UUID] = _id()
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    livemode: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = _created()
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


# --- catalogue and generation ---------------------------------------------------------------------------


class CatalogueModel(Base):
    """One provider endpoint the studio can run, with its parameter schema and prices."""

    __tablename__ = "models"
    __table_args__ = (
        sa.CheckConstraint(_in("price_unit", PRICE_UNITS), name="price_unit"),
        sa.CheckConstraint("credit_cost >= 0", name="credit_cost_not_negative"),
    )

    id: Mapped[uuid.UUID] = _id()
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
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class GenerationJob(Base):
    """One request to a provider, from acceptance to stored images (or a refund)."""

    __tablename__ = "generation_jobs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        sa.CheckConstraint("credits_reserved >= 0", name="credits_reserved_not_negative"),
        sa.UniqueConstraint("owner_id", "idempotency_key"),
        sa.Index(None, "owner_id", "status"),
        sa.Index(None, "owner_id", "created_at"),
        sa.Index(None, "status", "deadline_at"),
        sa.Index(None, "provider_request_id"),
        sa.Index(None, "batch_id"),
        sa.Index(None, "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    operation: Mapped[str] = mapped_column(sa.String(32), default="text_to_image")
    model_endpoint: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # exactly what is sent to the provider
    prompt: Mapped[str] = mapped_column(sa.Text, default="")
    input_image_ids: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    mask_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    parent_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    idempotency_key: Mapped[str] = mapped_column(sa.String(128))
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
    created_at: Mapped[datetime] = _created()
    submitted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = _updated()


class UsageLog(Base):
    """One row per finished job: what it used, what it cost, how long it took."""

    __tablename__ = "usage_logs"
    __table_args__ = (
        sa.Index(None, "user_id", "created_at"),
        sa.Index(None, "created_at"),
        sa.Index(None, "model_endpoint", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
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
    created_at: Mapped[datetime] = _created()


class Prompt(Base):
    """A user's prompt history and saved prompts, one row per distinct text."""

    __tablename__ = "prompts"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "text_hash"),
        sa.Index(None, "owner_id", "last_used_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    text: Mapped[str] = mapped_column(sa.Text)
    text_hash: Mapped[str] = mapped_column(sa.String(64))
    negative_prompt: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    is_starred: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    use_count: Mapped[int] = mapped_column(default=1, server_default="1")
    last_used_at: Mapped[datetime] = _created()
    created_at: Mapped[datetime] = _created()


# --- the library ----------------------------------------------------------------------------------------


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (sa.Index(None, "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    default_model: Mapped[str | None] = mapped_column(sa.String(200))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    cover_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        sa.CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        # The gallery: newest first per owner, keyset over (created_at, id).
        sa.Index(None, "owner_id", "created_at", "id"),
        sa.Index(None, "project_id", "created_at"),
        sa.Index(
            "ix_images_owner_favourites",
            "owner_id",
            "created_at",
            postgresql_where=sa.text("is_favourite"),
            sqlite_where=sa.text("is_favourite"),
        ),
        sa.Index(
            "ix_images_owner_trash",
            "owner_id",
            "deleted_at",
            postgresql_where=sa.text("deleted_at IS NOT NULL"),
            sqlite_where=sa.text("deleted_at IS NOT NULL"),
        ),
        sa.Index(None, "owner_id", "phash"),
        sa.Index(None, "job_id"),
        sa.Index(None, "parent_image_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("generation_jobs.id", ondelete="SET NULL"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"))
    parent_image_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("images.id", ondelete="SET NULL"))
    operation: Mapped[str] = mapped_column(sa.String(32), default="text_to_image")
    prompt: Mapped[str] = mapped_column(sa.Text, default="")
    negative_prompt: Mapped[str | None] = mapped_column(sa.Text)
    model_endpoint: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the exact request, for recall
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(sa.String(64))
    byte_size: Mapped[int] = mapped_column(sa.BigInteger)
    storage_key: Mapped[str] = mapped_column(sa.String(512))
    thumb_key: Mapped[str | None] = mapped_column(sa.String(512))
    phash: Mapped[str | None] = mapped_column(sa.String(16))  # perceptual hash, hex
    is_favourite: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    nsfw: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    provider_request_id: Mapped[str | None] = mapped_column(sa.String(128))
    credits: Mapped[int] = mapped_column(default=0, server_default="0")
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = _created()
    deleted_at: Mapped[datetime | None]  # in the trash since


class ImageTag(Base):
    """Tags as rows, so both databases index them; owner_id is copied here for the per-user index."""

    __tablename__ = "image_tags"
    __table_args__ = (sa.Index(None, "owner_id", "tag", "image_id"),)

    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    owner_id: Mapped[uuid.UUID] = _owner()


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (sa.Index(None, "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    cover_image_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("images.id", ondelete="SET NULL"))
    is_public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class CollectionImage(Base):
    __tablename__ = "collection_images"
    __table_args__ = (sa.Index(None, "collection_id", "position"), sa.Index(None, "image_id"))

    collection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]
    added_at: Mapped[datetime] = _created()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (sa.Index(None, "image_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    image_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    deleted_at: Mapped[datetime | None]


class ShareLink(Base):
    """A short unguessable token that opens one image, project or collection without signing in."""

    __tablename__ = "share_links"
    __table_args__ = (
        sa.CheckConstraint(_in("target_type", SHARE_TARGETS), name="target_type"),
        sa.CheckConstraint(
            "(target_type = 'image' AND image_id IS NOT NULL AND project_id IS NULL"
            " AND collection_id IS NULL)"
            " OR (target_type = 'project' AND project_id IS NOT NULL AND image_id IS NULL"
            " AND collection_id IS NULL)"
            " OR (target_type = 'collection' AND collection_id IS NOT NULL AND image_id IS NULL"
            " AND project_id IS NULL)",
            name="one_target",
        ),
        sa.Index(None, "owner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = _owner()
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    target_type: Mapped[str] = mapped_column(sa.String(16))
    image_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE")
    )
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    allow_download: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_viewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
