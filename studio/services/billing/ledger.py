"""Credits: every change of a balance, each with its ledger row, inside the caller's transaction.

The ledger is append-only. A balance changes only through `change_balance` (or `reserve_all`, a batch's
jobs at once), in the same transaction as its ledger rows, by a conditional UPDATE that cannot take it
below zero whatever runs concurrently. A row with a `dedupe_key` is applied at most once (the column is
unique): that is how a refund happens exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from studio.adapters.db.models import CreditLedger, User
from studio.domain.credits import LedgerKind
from studio.errors import InsufficientCredits, NotFound


def change_balance(
    session: Session,
    user_id: uuid.UUID,
    delta: int,
    kind: LedgerKind,
    reason: str,
    *,
    ref_type: str | None = None,
    ref_id: str | None = None,
    job_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
) -> CreditLedger | None:
    """Apply `delta` and write its ledger row; None when `dedupe_key` was already applied."""
    if dedupe_key is not None and session.scalar(
        sa.select(CreditLedger.id).where(CreditLedger.dedupe_key == dedupe_key)
    ):
        return None
    balance = session.scalar(
        sa.update(User)
        .where(User.id == user_id, User.credit_balance + delta >= 0)
        .values(credit_balance=User.credit_balance + delta)
        .returning(User.credit_balance)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        available = session.scalar(sa.select(User.credit_balance).where(User.id == user_id))
        if available is None:
            raise NotFound("no such account")
        raise InsufficientCredits(-delta, available)
    row = CreditLedger(
        user_id=user_id,
        kind=kind.value,
        delta=delta,
        balance_after=balance,
        reason=reason,
        ref_type=ref_type,
        ref_id=ref_id,
        job_id=job_id,
        actor_id=actor_id,
        dedupe_key=dedupe_key,
    )
    session.add(row)
    session.flush()
    user = session.get(User, user_id)
    if user is not None:  # keep a loaded User in step with the row we just updated
        session.refresh(user, ["credit_balance"])
    return row


@dataclass(frozen=True)
class Reservation:
    """One job's share of `reserve_all`."""

    credits: int
    reason: str
    job_id: uuid.UUID


def reserve_all(session: Session, user_id: uuid.UUID, reservations: list[Reservation]) -> None:
    """Reserve many jobs' credits at once, all or none: one conditional update for the total (so the
    balance never goes below zero), then one ledger row per job with the balance after it."""
    total = sum(item.credits for item in reservations)
    left = session.scalar(
        sa.update(User)
        .where(User.id == user_id, User.credit_balance - total >= 0)
        .values(credit_balance=User.credit_balance - total)
        .returning(User.credit_balance)
        .execution_options(synchronize_session=False)
    )
    if left is None:
        available = session.scalar(sa.select(User.credit_balance).where(User.id == user_id))
        if available is None:
            raise NotFound("no such account")
        raise InsufficientCredits(total, available)
    running = left + total
    for item in reservations:
        running -= item.credits
        session.add(
            CreditLedger(
                user_id=user_id,
                kind=LedgerKind.RESERVE.value,
                delta=-item.credits,
                balance_after=running,
                reason=item.reason,
                ref_type="job",
                ref_id=str(item.job_id),
                job_id=item.job_id,
                dedupe_key=f"reserve:{item.job_id}",
            )
        )
    session.flush()
    user = session.get(User, user_id)
    if user is not None:
        session.refresh(user, ["credit_balance"])


def balance(session: Session, user_id: uuid.UUID) -> int:
    value = session.scalar(sa.select(User.credit_balance).where(User.id == user_id))
    if value is None:
        raise NotFound("no such account")
    return value


def ledger_sum(session: Session, user_id: uuid.UUID) -> int:
    """The sum of every ledger row of the user: always equal to the balance."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(CreditLedger.delta), 0)).where(
                CreditLedger.user_id == user_id
            )
        )
        or 0
    )
