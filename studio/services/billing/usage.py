"""Usage: what an account has spent this cycle, by day and by model, read from the ledger; and the 80 % and
100 % alerts, each sent once per cycle."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from studio.adapters.db.models import CreditLedger, GenerationJob, Subscription, User
from studio.adapters.mail import Email
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.credits import LedgerKind
from studio.services import mails
from studio.services.billing import plans
from studio.services.context import Services

ALERT_LEVELS = (80, 100)
_SPENDING = (LedgerKind.RESERVE.value, LedgerKind.SETTLE.value, LedgerKind.REFUND.value)
_GRANTING = (LedgerKind.GRANT.value, LedgerKind.ADJUST.value)


@dataclass(frozen=True)
class LedgerLine:
    at: datetime
    kind: str
    delta: int
    balance_after: int
    reason: str


@dataclass(frozen=True)
class Usage:
    plan: str
    cycle_start: datetime
    renews_at: datetime
    granted: int  # credits granted (and adjusted up) this cycle
    used: int  # credits spent on images this cycle, net of refunds
    left: int  # the balance now
    per_day: list[tuple[date, int]]  # every day of the cycle, zeros included (days to come too)
    per_model: list[tuple[str, int]]  # model name, credits; largest first
    history: list[LedgerLine]  # newest first

    @property
    def used_share(self) -> float:
        return self.used / self.granted if self.granted else 0.0


def usage(services: Services, user_id: uuid.UUID, history_limit: int = 200) -> Usage | None:
    """This cycle's usage (the cycle renewed first if it had ended); None for an account without a plan."""
    current = plans.cycle(services, user_id)
    if current is None:
        return None
    plan, start, end = current
    with services.uow() as uow:
        rows = uow.session.execute(
            sa.select(
                CreditLedger.created_at, CreditLedger.kind, CreditLedger.delta, GenerationJob.model_endpoint
            )
            .outerjoin(GenerationJob, GenerationJob.id == CreditLedger.job_id)
            .where(CreditLedger.user_id == user_id, CreditLedger.created_at >= start)
        ).all()
        history = (
            [
                LedgerLine(row.created_at, row.kind, row.delta, row.balance_after, row.reason)
                for row in uow.session.scalars(
                    sa.select(CreditLedger)
                    .where(CreditLedger.user_id == user_id)
                    .order_by(CreditLedger.created_at.desc(), CreditLedger.id)
                    .limit(history_limit)
                )
            ]
            if history_limit
            else []
        )
        left = uow.session.scalar(sa.select(User.credit_balance).where(User.id == user_id)) or 0
    by_day: dict[date, int] = defaultdict(int)
    by_model: dict[str, int] = defaultdict(int)
    granted = 0
    for at, kind, delta, endpoint in rows:
        if kind in _SPENDING:
            by_day[at.date()] -= delta
            spec = BY_ENDPOINT.get(endpoint or "")
            by_model[spec.name if spec else endpoint or "other"] -= delta
        elif kind in _GRANTING and delta > 0:
            granted += delta
    days: list[tuple[date, int]] = []
    day = start.date()
    while day < end.date() or not days:
        days.append((day, by_day.get(day, 0)))
        day = date.fromordinal(day.toordinal() + 1)
    return Usage(
        plan=plan,
        cycle_start=start,
        renews_at=end,
        granted=granted,
        used=sum(by_day.values()),
        left=left,
        per_day=days,
        per_model=sorted(((m, c) for m, c in by_model.items() if c), key=lambda item: (-item[1], item[0])),
        history=history,
    )


def alert_if_due(services: Services, user_id: uuid.UUID) -> int | None:
    """After a charge: mail the 80 % or 100 % alert when this cycle first crosses it; the level sent, if any.
    A conditional UPDATE makes each level go out once per cycle, whoever gets there first."""
    found = usage(services, user_id, history_limit=0)
    if found is None or not found.granted:
        return None
    share = 100 * (found.granted - found.left) / found.granted
    level = max((lvl for lvl in ALERT_LEVELS if share >= lvl), default=0)
    if not level:
        return None
    with services.uow() as uow:
        claimed = uow.session.scalar(
            sa.update(Subscription)
            .where(Subscription.user_id == user_id, Subscription.usage_alert_level < level)
            .values(usage_alert_level=level)
            .returning(Subscription.id)
        )
        user = uow.users.get(user_id)
        uow.commit()
    if claimed is None or user is None:
        return None
    mails.send(services, _alert_mail(services, user.email, user.name, level, found))
    return level


def _alert_mail(services: Services, to: str, name: str, level: int, found: Usage) -> Email:
    renews = f"{found.renews_at:%d %B %Y}"
    if level >= 100:
        subject, body = "You have used all your credits", f"you have used all {found.granted} credits"
    else:
        subject, body = f"You have used {level} % of your credits", f"you have used {level} % of your credits"
    return Email(
        to=to,
        subject=f"{subject} for this month",
        text=(
            f"Hello {name},\n\n{body} on the {found.plan} plan this cycle. They renew on {renews}; "
            f"your usage is at {services.settings.public_base_url}/usage.\n\n— the studio\n"
        ),
    )
