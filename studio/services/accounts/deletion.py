"""Deleting an account: "delete my account" closes it at once (every session ends, running jobs are asked
to stop), then a job erases its files and personal rows and anonymises what accounting must keep (the
credit ledger and the generation jobs, without what was asked for)."""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import (
    ApiKey,
    Collection,
    CollectionImage,
    Comment,
    DataExport,
    EmailToken,
    GenerationJob,
    Image,
    ImageTag,
    Preset,
    Project,
    Prompt,
    ShareLink,
    StyleModifier,
    User,
    UserSettings,
    WildcardList,
    utcnow,
)
from studio.errors import InvalidForm, NotFound, QueueError, WrongCredentials
from studio.services import dispatch
from studio.services.accounts import signin
from studio.services.accounts.sessions import revoke_sessions
from studio.services.billing import checkout
from studio.services.context import Services
from studio.services.generation import lifecycle
from studio.services.passwords import check_password

log = logging.getLogger(__name__)

PURGE_BATCH = 200


def delete_account(
    services: Services, user_id: uuid.UUID, *, confirmation: str, password: str | None
) -> None:
    """Close the account at once (every session ends, running jobs are cancelled) and queue the job that
    erases its data."""
    with services.uow() as uow:
        user = uow.session.get(User, user_id, with_for_update=True)
        if user is None or user.deleted_at is not None or user.disabled_at is not None:
            raise NotFound("No such account.")
        if confirmation.strip().lower() != user.username.lower():
            raise InvalidForm([f"Type your username, {user.username}, to confirm."])
        if user.password_hash is not None:
            signin.check_attempts(services, user.username, None)
            if not password or not check_password(password, user.password_hash):
                signin.count_failure(services, user.username, None)
                raise WrongCredentials("Your password is not right.")
        now = utcnow()
        user.deleted_at = now
        revoke_sessions(user)
        lifecycle.request_cancel_all(uow.session, user_id, now)
        uow.commit()
    log.info("account deleted", extra={"user_id": str(user_id)})
    try:
        dispatch.enqueue(
            services,
            dispatch.PURGE_ACCOUNT,
            str(user_id),
            priority=dispatch.BACKGROUND,
            job_id=f"purge-{user_id}",
        )
    except QueueError:
        # The account is closed either way; running purge_account later finishes the erasure.
        log.exception("could not queue the purge of account %s", user_id)


def purge_account(services: Services, user_id: uuid.UUID) -> None:
    """The job after delete_account: erase the files and personal rows, anonymise the user row, keep the
    ledger and the (scrubbed) jobs. Files go before their rows, so running it again finishes an
    interrupted run; it does nothing for an account that was not deleted."""
    with services.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or user.deleted_at is None:
            log.warning("not purging account %s: it does not exist or was not deleted", user_id)
            return
        avatar = user.avatar_key
    # Nobody is billed again for a deleted account (a failure here fails the job, which is retried).
    checkout.cancel_for_deleted_account(services, user_id)
    storage = services.storage
    while True:
        with services.uow() as uow:
            batch = uow.session.execute(
                sa.select(Image.id, Image.storage_key, Image.thumb_key, Image.mask_key)
                .where(Image.owner_id == user_id)
                .order_by(Image.id)
                .limit(PURGE_BATCH)
            ).all()
        if not batch:
            break
        for _, *keys in batch:
            for key in keys:
                if key:
                    storage.delete(key)
        with services.uow() as uow:
            _delete_images(uow.session, [row.id for row in batch])
            uow.commit()
    with services.uow() as uow:
        masks = uow.session.scalars(
            sa.select(GenerationJob.mask_key).where(
                GenerationJob.owner_id == user_id, GenerationJob.mask_key.is_not(None)
            )
        ).all()
    for mask in masks:  # the masks inpaintings sent (their jobs are kept, scrubbed)
        if mask:
            storage.delete(mask)
    with services.uow() as uow:
        exports = uow.session.execute(
            sa.select(DataExport.id, DataExport.object_key).where(DataExport.user_id == user_id)
        ).all()
    for export_id, key in exports:
        storage.delete(key or f"exports/{user_id}/{export_id}.zip")
    if avatar:
        storage.delete(avatar)
    with services.uow() as uow:
        _erase_rows(uow.session, user_id)
        user = uow.session.get(User, user_id, with_for_update=True)
        if user is not None:
            _anonymise(user)
        uow.commit()
    log.info("account purged", extra={"user_id": str(user_id)})


def _delete_images(session: Session, ids: list[uuid.UUID]) -> None:
    """Image rows and what hangs on them; references from rows that stay are cleared."""
    for model in (ImageTag, CollectionImage, ShareLink, Comment):
        session.execute(sa.delete(model).where(model.image_id.in_(ids)))
    session.execute(
        sa.update(GenerationJob).where(GenerationJob.mask_image_id.in_(ids)).values(mask_image_id=None)
    )
    session.execute(
        sa.update(GenerationJob).where(GenerationJob.parent_image_id.in_(ids)).values(parent_image_id=None)
    )
    session.execute(sa.update(Image).where(Image.parent_image_id.in_(ids)).values(parent_image_id=None))
    session.execute(sa.update(Project).where(Project.cover_image_id.in_(ids)).values(cover_image_id=None))
    session.execute(
        sa.update(Collection).where(Collection.cover_image_id.in_(ids)).values(cover_image_id=None)
    )
    session.execute(sa.delete(Image).where(Image.id.in_(ids)))


def _erase_rows(session: Session, user_id: uuid.UUID) -> None:
    projects = sa.select(Project.id).where(Project.owner_id == user_id).scalar_subquery()
    collections = sa.select(Collection.id).where(Collection.owner_id == user_id).scalar_subquery()
    session.execute(sa.delete(ShareLink).where(ShareLink.owner_id == user_id))
    session.execute(sa.delete(CollectionImage).where(CollectionImage.collection_id.in_(collections)))
    session.execute(
        sa.update(GenerationJob).where(GenerationJob.project_id.in_(projects)).values(project_id=None)
    )
    session.execute(sa.update(Image).where(Image.project_id.in_(projects)).values(project_id=None))
    session.execute(sa.delete(Collection).where(Collection.owner_id == user_id))
    session.execute(sa.delete(Project).where(Project.owner_id == user_id))
    for library_model in (Prompt, WildcardList, StyleModifier, Preset):
        session.execute(sa.delete(library_model).where(library_model.owner_id == user_id))
    session.execute(sa.delete(Comment).where(Comment.author_id == user_id))
    for model in (ApiKey, EmailToken, DataExport, UserSettings):
        session.execute(sa.delete(model).where(model.user_id == user_id))
    # Kept for accounting (the ledger refers to them), without what the person asked for.
    session.execute(
        sa.update(GenerationJob)
        .where(GenerationJob.owner_id == user_id)
        .values(prompt="", params={}, request={}, result=None, logs=[], input_image_ids=[], mask_key=None)
    )


def _anonymise(user: User) -> None:
    user.email = f"deleted-{user.id.hex}@deleted.invalid"
    user.username = f"deleted-{user.id.hex[:12]}"
    user.name = "Deleted account"
    user.password_hash = user.avatar_key = user.totp_secret = user.oidc_subject = None
    user.stripe_customer_id = None
    user.totp_enabled_at = user.email_verified_at = user.last_login_at = None
    user.totp_last_step = None
    user.recovery_codes = None
    user.disabled_at = user.disabled_at or utcnow()
