"""Admin: find people, see one account in full, and act on it (credits, plan, access, verification mail).

Every action checks the actor's role on the server and writes its audit row in the same transaction as the
change itself. Credits change only through `ledger.change_balance` (kind adjust, the admin as actor).

Changing a plan (while payments are off, or for an account without a Stripe subscription) takes effect now:
a new cycle starts today with the new plan's credits, and the unused credits of the old cycle expire, each
as a ledger row with a dedupe key that names the change, so the switch is applied exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import (
    CreditLedger,
    GenerationJob,
    Image,
    Plan,
    Subscription,
    User,
    utcnow,
)
from studio.domain.credits import LedgerKind
from studio.errors import InsufficientCredits, InvalidInput, NotFound
from studio.services.accounts import signup
from studio.services.audit import audit, check_admin
from studio.services.billing import ledger, plans
from studio.services.context import Services

SEARCH_LIMIT = 50
REASON_MAX = 200
ADJUST_MAX = 1_000_000


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    username: str
    name: str
    role: str
    balance: int
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class LedgerRow:
    at: datetime
    kind: str
    delta: int
    balance_after: int
    reason: str


@dataclass(frozen=True)
class JobRow:
    at: datetime
    model: str
    status: str
    credits: int
    error: str | None


@dataclass(frozen=True)
class UserDetail:
    user: UserRow
    verified: bool
    last_login_at: datetime | None
    plan_code: str | None
    plan_name: str | None
    cycle_end: datetime | None
    stripe_managed: bool
    images: int
    ledger: list[LedgerRow]
    jobs: list[JobRow]


def _row(user: User) -> UserRow:
    return UserRow(
        user.id,
        user.email,
        user.username,
        user.name,
        user.role,
        user.credit_balance,
        user.disabled_at is not None,
        user.created_at,
    )


def _prefix(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix`, as a range an index can answer (plus LIKE for odd collations)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.and_(column >= prefix, column < upper, column.like(f"{escaped}%", escape="\\"))


def search_users(services: Services, actor_id: uuid.UUID, text: str) -> list[UserRow]:
    """Accounts whose email, username or name (any case) starts with `text`; the newest without text."""
    prefix = text.strip().lower()
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        query = sa.select(User).where(User.deleted_at.is_(None)).limit(SEARCH_LIMIT)
        if prefix:
            query = query.where(
                sa.or_(
                    _prefix(User.email, prefix),
                    _prefix(User.username, prefix),
                    _prefix(sa.func.lower(User.name), prefix),
                )
            ).order_by(User.username)
        else:
            query = query.order_by(User.created_at.desc())
        return [_row(user) for user in uow.session.scalars(query)]


def user_detail(services: Services, actor_id: uuid.UUID, user_id: uuid.UUID, limit: int = 50) -> UserDetail:
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFound("No such account.")
        plan = uow.session.execute(
            sa.select(
                Plan.code, Plan.name, Subscription.current_period_end, Subscription.stripe_subscription_id
            )
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(Subscription.user_id == user_id)
        ).one_or_none()
        images = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Image)
            .where(Image.owner_id == user_id, Image.deleted_at.is_(None))
        )
        ledger = uow.session.scalars(
            sa.select(CreditLedger)
            .where(CreditLedger.user_id == user_id)
            .order_by(CreditLedger.created_at.desc(), CreditLedger.id)
            .limit(limit)
        )
        jobs = uow.session.scalars(
            sa.select(GenerationJob)
            .where(GenerationJob.owner_id == user_id)
            .order_by(GenerationJob.created_at.desc())
            .limit(limit)
        )
        return UserDetail(
            user=_row(user),
            verified=user.email_verified_at is not None,
            last_login_at=user.last_login_at,
            plan_code=plan[0] if plan else None,
            plan_name=plan[1] if plan else None,
            cycle_end=plan[2] if plan else None,
            stripe_managed=bool(plan and plan[3]),
            images=int(images or 0),
            ledger=[LedgerRow(r.created_at, r.kind, r.delta, r.balance_after, r.reason) for r in ledger],
            jobs=[
                JobRow(
                    j.created_at,
                    j.model_endpoint,
                    j.status,
                    j.credits_settled or j.credits_reserved,
                    j.error_message,
                )
                for j in jobs
            ],
        )


def _user(session: Session, user_id: uuid.UUID, *, lock: bool = False) -> User:
    query = sa.select(User).where(User.id == user_id)
    user = session.scalar(query.with_for_update() if lock else query)
    if user is None:
        raise NotFound("No such account.")
    return user


def adjust_credits(
    services: Services, actor_id: uuid.UUID, user_id: uuid.UUID, delta: int, reason: str
) -> int:
    """Add (or with a negative delta, remove) credits: a ledger row and its audit row, in one transaction.
    Returns the new balance; never takes it below zero."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Give a reason: it is kept in the ledger and the audit log.")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Keep the reason under {REASON_MAX} characters.")
    if delta == 0 or abs(delta) > ADJUST_MAX:
        raise InvalidInput(f"Adjust by a whole number of credits between 1 and {ADJUST_MAX:,}, + or −.")
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        before = _user(uow.session, user_id).credit_balance
        try:
            row = ledger.change_balance(
                uow.session,
                user_id,
                delta,
                LedgerKind.ADJUST,
                f"Adjusted by an admin: {reason}",
                ref_type="admin",
                ref_id=str(actor_id),
                actor_id=actor_id,
            )
        except InsufficientCredits as err:
            raise InvalidInput(
                f"The balance is {err.available:,}: removing {-delta:,} would take it below zero."
            ) from None
        assert row is not None
        audit(
            uow.session,
            actor_id,
            "credits.adjust",
            "user",
            user_id,
            before={"balance": before},
            after={"balance": row.balance_after, "delta": delta},
            reason=reason,
        )
        uow.commit()
        return row.balance_after


def plan_choices(services: Services, actor_id: uuid.UUID) -> list[tuple[str, str]]:
    """(code, label) of every active plan, in order."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        plans = uow.session.scalars(sa.select(Plan).where(Plan.is_active).order_by(Plan.sort_order))
        return [
            (p.code, f"{p.name} · {p.monthly_credits:,} credits · ${p.price_cents / 100:,.2f}/month")
            for p in plans
        ]


def change_plan(services: Services, actor_id: uuid.UUID, user_id: uuid.UUID, plan_code: str) -> None:
    """Put the account on `plan_code` from now: a new cycle with that plan's credits; the old cycle's unused
    credits expire."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        plan = uow.session.scalar(sa.select(Plan).where(Plan.code == plan_code, Plan.is_active))
        if plan is None:
            raise InvalidInput(f"There is no active plan {plan_code!r}.")
        subscription = uow.session.scalar(
            sa.select(Subscription).where(Subscription.user_id == user_id).with_for_update()
        )
        if subscription is None:
            raise NotFound("This account has no subscription.")
        if subscription.stripe_subscription_id:
            raise InvalidInput("This plan is paid through Stripe: change it in Stripe, not here.")
        old = uow.session.get(Plan, subscription.plan_id)
        assert old is not None
        if old.id == plan.id:
            raise InvalidInput(f"The account is already on the {plan.name} plan.")
        balance = plans.restart_cycle(
            uow.session,
            subscription,
            plan,
            utcnow(),
            f"Unused credits of the {old.name} plan (plan changed by an admin)",
            actor_id,
        )
        audit(
            uow.session,
            actor_id,
            "plan.change",
            "user",
            user_id,
            before={"plan": old.code, "balance": balance},
            after={"plan": plan.code, "balance": plan.monthly_credits},
        )
        uow.commit()


def set_disabled(services: Services, actor_id: uuid.UUID, user_id: uuid.UUID, disabled: bool) -> None:
    """Disable an account (every session of it ends at its next run) or enable it again."""
    if disabled and user_id == actor_id:
        raise InvalidInput("You cannot disable your own account.")
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        user = _user(uow.session, user_id, lock=True)
        if (user.disabled_at is not None) == disabled:
            raise InvalidInput(f"The account is already {'disabled' if disabled else 'enabled'}.")
        user.disabled_at = utcnow() if disabled else None
        if disabled:  # what sign_out_everywhere does: live sessions and older cookies are refused
            user.session_version += 1
            user.sessions_valid_from = utcnow()
        audit(
            uow.session,
            actor_id,
            "user.disable" if disabled else "user.enable",
            "user",
            user_id,
            before={"disabled": not disabled},
            after={"disabled": disabled},
        )
        uow.commit()


def resend_verification(services: Services, actor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Mail the account a fresh verification link (the same limits apply as when its owner asks)."""
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
    signup.resend_verification(services, user_id)
    with services.uow() as uow:
        audit(uow.session, actor_id, "user.resend_verification", "user", user_id)
        uow.commit()
