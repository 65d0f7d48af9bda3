"""Admin: the plan catalogue. Every plan with its subscribers and its worst-case margin, and changes to a
plan (credits, price, Stripe price id, offered or not), each with an audit row in the same transaction.
Subscribers get the new credits from their next cycle on."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from studio.adapters.db.models import CatalogueModel, Plan, Subscription
from studio.domain.accounts import Account
from studio.domain.catalogue import BY_ENDPOINT, CATALOGUE
from studio.domain.plans import FREE, PlanSpec, full_use_cost_micros, margin
from studio.errors import InvalidForm, NotFound
from studio.services.audit import audit, check_admin
from studio.services.context import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanRow:
    code: str
    name: str
    monthly_credits: int
    price_cents: int
    stripe_price_id: str | None
    is_active: bool
    subscribers: int
    worst_margin: float | None  # at full use of the most expensive model per credit; None for free plans


_PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]{1,120}$")


def plan_rows(services: Services, actor: Account) -> list[PlanRow]:
    """Every plan with its subscriber count and its worst-case margin (admins only)."""
    with services.uow() as uow:
        check_admin(uow.session, actor.id)
        counted = uow.session.execute(
            sa.select(Subscription.plan_id, sa.func.count()).group_by(Subscription.plan_id)
        )
        counts: dict[uuid.UUID, int] = {plan_id: int(count) for plan_id, count in counted}
        enabled = list(
            uow.session.scalars(sa.select(CatalogueModel.endpoint_id).where(CatalogueModel.is_enabled))
        )
        rows = list(uow.session.scalars(sa.select(Plan).order_by(Plan.sort_order, Plan.monthly_credits)))
        return [
            PlanRow(
                plan.code,
                plan.name,
                plan.monthly_credits,
                plan.price_cents,
                plan.stripe_price_id,
                plan.is_active,
                int(counts.get(plan.id, 0)),
                _worst_margin(plan, enabled),
            )
            for plan in rows
        ]


def _worst_margin(plan: Plan, enabled: list[str]) -> float | None:
    if plan.price_cents <= 0:
        return None
    spec = PlanSpec(plan.code, plan.name, plan.monthly_credits, plan.price_cents, plan.sort_order)
    models = [BY_ENDPOINT[endpoint] for endpoint in enabled if endpoint in BY_ENDPOINT] or list(CATALOGUE)
    return min(margin(spec, full_use_cost_micros(spec, model)) for model in models)


def update_plan(
    services: Services,
    actor: Account,
    code: str,
    *,
    name: str,
    monthly_credits: int,
    price_cents: int,
    stripe_price_id: str | None,
    is_active: bool,
    reason: str,
) -> PlanRow:
    """Change a plan (admins only), with an audit row in the same transaction. Subscribers get the new
    credits from their next cycle on."""
    name, reason, price_id = name.strip(), reason.strip(), (stripe_price_id or "").strip() or None
    problems = []
    if not 1 <= len(name) <= 64:
        problems.append("The name must be 1 to 64 characters.")
    if not 1 <= monthly_credits <= 1_000_000:
        problems.append("Credits per month must be between 1 and 1,000,000.")
    if not 0 <= price_cents <= 10_000_000:
        problems.append("The price must be between $0 and $100,000 a month.")
    if price_id is not None and not _PRICE_ID.match(price_id):
        problems.append(
            "A Stripe price id looks like price_1AbC…; leave it empty if the plan is not for sale."
        )
    if code == FREE and (price_cents != 0 or price_id is not None or not is_active):
        problems.append("The free plan stays free, active and not for sale: new accounts start on it.")
    if not reason:
        problems.append("Say why: the reason goes into the audit log.")
    if problems:
        raise InvalidForm(problems)
    with services.uow() as uow:
        check_admin(uow.session, actor.id)
        plan = uow.session.scalar(sa.select(Plan).where(Plan.code == code).with_for_update())
        if plan is None:
            raise NotFound(f"no plan {code!r}")
        before = _plan_values(plan)
        plan.name, plan.monthly_credits, plan.price_cents = name, monthly_credits, price_cents
        plan.stripe_price_id, plan.is_active = price_id, is_active
        after = _plan_values(plan)
        if after != before:
            audit(
                uow.session, actor.id, "plan.update", "plan", code, before=before, after=after, reason=reason
            )
        try:
            uow.commit()
        except IntegrityError:
            raise InvalidForm(["Another plan already uses that Stripe price id."]) from None
    log.info("plan changed", extra={"plan": code, "actor_id": str(actor.id)})
    return next(row for row in plan_rows(services, actor) if row.code == code)


def _plan_values(plan: Plan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "monthly_credits": plan.monthly_credits,
        "price_cents": plan.price_cents,
        "stripe_price_id": plan.stripe_price_id,
        "is_active": plan.is_active,
    }
