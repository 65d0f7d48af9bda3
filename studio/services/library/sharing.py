"""Share links: an image, a project or a collection opened by a short unguessable token, without signing in.

A link may expire, ask for a password (bcrypt) and allow downloads or not; its owner can revoke it. Opening
it shows only what was shared, never what is in the trash, through file URLs that expire within minutes.
An unknown, revoked or expired token all look the same to the visitor: NotFound.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import Collection, CollectionImage, Image, Project, ShareLink, utcnow
from studio.domain.sharing import ShareOptions, ShareTarget
from studio.errors import NotFound, PasswordRequired, TooManyAttempts, WrongCredentials
from studio.services.context import Services
from studio.services.library.curation import owned_collection, owned_project
from studio.services.library.gallery import download_name, owned_image
from studio.services.passwords import check_password, hash_password
from studio.services.urls import SHARED

SHARE_PATH = "s"  # the public share page: /s?t=<token>
PREVIEW_ROUTE = "/s/{token}"  # Open Graph tags for link previews, then on to the page
TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
SHARED_IMAGES_MAX = 200
DEFAULT_OPTIONS = ShareOptions()
INVALID = "This link is not valid: it may have expired or been revoked."


@dataclass(frozen=True)
class ShareView:
    """A share link as its owner sees it."""

    id: uuid.UUID
    token: str
    url: str
    target_type: ShareTarget
    target_id: uuid.UUID
    has_password: bool
    allow_download: bool
    expires_at: datetime | None
    revoked_at: datetime | None
    view_count: int
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


@dataclass(frozen=True)
class SharedImage:
    id: uuid.UUID
    thumb_url: str
    url: str
    download_url: str | None
    prompt: str
    width: int
    height: int


@dataclass(frozen=True)
class SharedView:
    """What a visitor with the token sees."""

    target_type: ShareTarget
    title: str
    description: str
    images: list[SharedImage]
    allow_download: bool


def share_url(services: Services, token: str) -> str:
    return f"{services.settings.public_base_url.rstrip('/')}{PREVIEW_ROUTE.format(token=token)}"


def _view(services: Services, link: ShareLink) -> ShareView:
    target = link.image_id or link.project_id or link.collection_id
    assert target is not None  # the one_target constraint
    return ShareView(
        link.id, link.token, share_url(services, link.token), ShareTarget(link.target_type), target,
        link.password_hash is not None, link.allow_download, link.expires_at, link.revoked_at,
        link.view_count, link.created_at,
    )  # fmt: skip


def create_share(
    services: Services,
    owner_id: uuid.UUID,
    target: ShareTarget,
    target_id: uuid.UUID,
    options: ShareOptions = DEFAULT_OPTIONS,
) -> ShareView:
    """A new link to one of the owner's images, projects or collections; NotFound for anybody else's."""
    with services.uow() as uow:
        session = uow.session
        link = ShareLink(
            owner_id=owner_id,
            token=secrets.token_urlsafe(TOKEN_BYTES),
            target_type=target.value,
            password_hash=hash_password(options.password) if options.password else None,
            allow_download=options.allow_download,
            expires_at=utcnow() + timedelta(days=options.expires_in_days)
            if options.expires_in_days
            else None,
        )
        if target is ShareTarget.IMAGE:
            image = owned_image(session, owner_id, target_id)
            if image.deleted_at is not None:
                raise NotFound("That image is in the trash.")
            link.image_id = image.id
        elif target is ShareTarget.PROJECT:
            link.project_id = owned_project(session, owner_id, target_id).id
        else:
            link.collection_id = owned_collection(session, owner_id, target_id).id
        session.add(link)
        session.flush()
        view = _view(services, link)
        uow.commit()
        return view


def shares_of(services: Services, owner_id: uuid.UUID, target_id: uuid.UUID | None = None) -> list[ShareView]:
    """The owner's links (to one target, or all), newest first."""
    with services.uow() as uow:
        query = sa.select(ShareLink).where(ShareLink.owner_id == owner_id)
        if target_id is not None:
            query = query.where(
                sa.or_(
                    ShareLink.image_id == target_id,
                    ShareLink.project_id == target_id,
                    ShareLink.collection_id == target_id,
                )
            )
        rows = uow.session.scalars(
            query.order_by(ShareLink.created_at.desc(), ShareLink.id.desc()).limit(200)
        )
        return [_view(services, row) for row in rows]


def revoke_share(services: Services, owner_id: uuid.UUID, share_id: uuid.UUID) -> None:
    with services.uow() as uow:
        link = uow.session.scalar(
            sa.select(ShareLink)
            .where(ShareLink.id == share_id, ShareLink.owner_id == owner_id)
            .with_for_update()
        )
        if link is None:
            raise NotFound("No such share link.")
        if link.revoked_at is None:
            link.revoked_at = utcnow()
        uow.commit()


def set_collection_public(
    services: Services, owner_id: uuid.UUID, collection_id: uuid.UUID, public: bool
) -> ShareView | None:
    """A public collection has one lasting link without a password; making it private revokes that link."""
    with services.uow() as uow:
        collection = owned_collection(uow.session, owner_id, collection_id)
        collection.is_public = public
        lasting = list(
            uow.session.scalars(
                sa.select(ShareLink).where(
                    ShareLink.collection_id == collection.id,
                    ShareLink.revoked_at.is_(None),
                    ShareLink.expires_at.is_(None),
                    ShareLink.password_hash.is_(None),
                )
            )
        )
        if not public:
            for link in lasting:
                link.revoked_at = utcnow()
        kept = _view(services, lasting[0]) if public and lasting else None
        uow.commit()
    if not public or kept is not None:
        return kept
    return create_share(
        services, owner_id, ShareTarget.COLLECTION, collection_id, ShareOptions(expires_in_days=None)
    )


def _live_link(session: Session, token: str, *, lock: bool = False) -> ShareLink:
    if not token or len(token) > 64:
        raise NotFound(INVALID)
    query = sa.select(ShareLink).where(ShareLink.token == token)
    if lock:
        query = query.with_for_update()
    link = session.scalar(query)
    now = utcnow()
    if (
        link is None
        or link.revoked_at is not None
        or (link.expires_at is not None and link.expires_at <= now)
    ):
        raise NotFound(INVALID)
    return link


def _shared_images(session: Session, link: ShareLink) -> tuple[str, str, list[Image]]:
    visible = [Image.owner_id == link.owner_id, Image.deleted_at.is_(None)]
    if link.image_id is not None:
        image = session.scalar(sa.select(Image).where(Image.id == link.image_id, *visible))
        if image is None:
            raise NotFound(INVALID)
        return image.prompt[:120] or "An image", "", [image]
    if link.project_id is not None:
        project = session.get(Project, link.project_id)
        if project is None or project.owner_id != link.owner_id:
            raise NotFound(INVALID)
        query = (
            sa.select(Image)
            .where(Image.project_id == project.id, *visible)
            .order_by(Image.created_at.desc(), Image.id.desc())
        )
        return project.name, project.description, list(session.scalars(query.limit(SHARED_IMAGES_MAX)))
    collection = session.get(Collection, link.collection_id)
    if collection is None or collection.owner_id != link.owner_id:
        raise NotFound(INVALID)
    query = (
        sa.select(Image)
        .join(CollectionImage, CollectionImage.image_id == Image.id)
        .where(CollectionImage.collection_id == collection.id, *visible)
        .order_by(CollectionImage.position, Image.id)
    )
    return collection.name, collection.description, list(session.scalars(query.limit(SHARED_IMAGES_MAX)))


def _check_link_password(services: Services, link: ShareLink, password: str) -> None:
    """bcrypt, behind the sign-in lockout policy per link: guessing a link's password is as slow as
    guessing an account's."""
    attempts, key = services.sign_in_limits.account, f"share:{link.id}"
    wait = attempts.retry_after(key)
    if wait > 0:
        raise TooManyAttempts(f"Too many wrong passwords: try again in {int(wait // 60) + 1} min.", wait)
    assert link.password_hash is not None
    if not check_password(password, link.password_hash):
        attempts.fail(key)
        raise WrongCredentials("That password is not right.")
    attempts.clear(key)


def open_share(
    services: Services,
    token: str,
    password: str | None = None,
    *,
    count_view: bool = True,
    address: str | None = None,
) -> SharedView:
    """What the token shares. NotFound for an unknown, revoked or expired link; PasswordRequired when it asks
    for a password and none was given; WrongCredentials for a wrong one. `count_view` adds one view, at most
    RATE_LIMIT_SHARE_VIEWS of one link from one client `address` (RateLimited beyond)."""
    if count_view:
        services.limit(services.settings.rate_limit_share_views, "views of this link", token, address or "-")
    urls = services.files
    with services.uow() as uow:
        link = _live_link(uow.session, token, lock=count_view)
        if link.password_hash is not None:
            if not password:
                raise PasswordRequired("This link is protected by a password.")
            _check_link_password(services, link, password)
        title, description, images = _shared_images(uow.session, link)
        if count_view:
            link.view_count += 1
            link.last_viewed_at = utcnow()
            uow.commit()
        shown = [
            SharedImage(
                image.id,
                urls.url(image.thumb_key or image.storage_key, SHARED),
                urls.url(image.storage_key, SHARED),
                urls.url(image.storage_key, SHARED, download_name(image)) if link.allow_download else None,
                image.prompt,
                image.width,
                image.height,
            )
            for image in images
        ]
        return SharedView(ShareTarget(link.target_type), title, description, shown, link.allow_download)


@dataclass(frozen=True)
class Preview:
    """What a link preview (Open Graph) may show: nothing of a password-protected link but that it is one."""

    title: str
    description: str
    image_url: str | None


def preview(services: Services, token: str) -> Preview:
    with services.uow() as uow:
        link = _live_link(uow.session, token)
        if link.password_hash is not None:
            return Preview("A shared link", "Protected by a password.", None)
        title, description, images = _shared_images(uow.session, link)
        kind = ShareTarget(link.target_type).value
        first = images[0] if images else None
        url = services.files.url(first.thumb_key or first.storage_key, SHARED) if first else None
        return Preview(title, description or f"A {kind} shared from the studio", url)
