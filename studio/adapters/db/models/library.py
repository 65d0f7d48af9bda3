"""The library: projects, images and their tags, collections, comments and share links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from studio.adapters.db.models.base import (
    SHARE_TARGETS,
    Base,
    created_column,
    id_column,
    one_of,
    owner_column,
    updated_column,
)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (sa.Index(None, "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    default_model: Mapped[str | None] = mapped_column(sa.String(200))
    default_params: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    cover_image_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="SET NULL", use_alter=True)
    )
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


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

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
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
    mask_key: Mapped[str | None] = mapped_column(sa.String(512))  # a background removal's cut-out mask
    phash: Mapped[str | None] = mapped_column(sa.String(16))  # perceptual hash, hex
    is_favourite: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    nsfw: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    provider_request_id: Mapped[str | None] = mapped_column(sa.String(128))
    credits: Mapped[int] = mapped_column(default=0, server_default="0")
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = created_column()
    deleted_at: Mapped[datetime | None]  # in the trash since


class ImageTag(Base):
    """Tags as rows, so both databases index them; owner_id is copied here for the per-user index."""

    __tablename__ = "image_tags"
    __table_args__ = (sa.Index(None, "owner_id", "tag", "image_id"),)

    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    owner_id: Mapped[uuid.UUID] = owner_column()


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (sa.Index(None, "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    cover_image_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("images.id", ondelete="SET NULL"))
    is_public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


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
    added_at: Mapped[datetime] = created_column()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (sa.Index(None, "image_id", "created_at"),)

    id: Mapped[uuid.UUID] = id_column()
    image_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("images.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
    deleted_at: Mapped[datetime | None]


class ShareLink(Base):
    """A short unguessable token that opens one image, project or collection without signing in."""

    __tablename__ = "share_links"
    __table_args__ = (
        sa.CheckConstraint(one_of("target_type", SHARE_TARGETS), name="target_type"),
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

    id: Mapped[uuid.UUID] = id_column()
    owner_id: Mapped[uuid.UUID] = owner_column()
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
    created_at: Mapped[datetime] = created_column()
