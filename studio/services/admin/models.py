"""Admin: the model catalogue as the studio runs it. Switch models on and off (a model switched off leaves
the Generate page at its next run and `start_generation` refuses it), set their credit cost, feature them,
describe them; and each model's figures over the last days."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from studio.adapters.db.models import CatalogueModel, utcnow
from studio.domain.analytics import DateRange
from studio.errors import InvalidInput, NotFound
from studio.services.analytics.admin_analytics import ModelFigures, admin_analytics
from studio.services.audit import audit, check_admin
from studio.services.context import Services

COST_MAX = 10_000
DESCRIPTION_MAX = 2_000


@dataclass(frozen=True)
class ModelRow:
    endpoint: str
    name: str
    category: str
    enabled: bool
    featured: bool
    credit_cost: int
    price_micros: int
    price_unit: str
    description: str
    stats: ModelFigures | None


def models(services: Services, actor_id: uuid.UUID, stats_days: int = 30) -> list[ModelRow]:
    """Every model of the catalogue, with its figures over the last `stats_days` days."""
    today = utcnow().date()
    figures = {
        m.endpoint: m
        for m in admin_analytics(
            services, actor_id, DateRange(today - timedelta(days=stats_days - 1), today)
        ).per_model
    }
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        rows = uow.session.scalars(
            sa.select(CatalogueModel).order_by(CatalogueModel.sort_order, CatalogueModel.name)
        )
        return [
            ModelRow(
                r.endpoint_id,
                r.name,
                r.category,
                r.is_enabled,
                r.is_featured,
                r.credit_cost,
                r.price_micros,
                r.price_unit,
                r.description,
                figures.get(r.endpoint_id),
            )
            for r in rows
        ]


def update_model(
    services: Services,
    actor_id: uuid.UUID,
    endpoint: str,
    *,
    enabled: bool,
    featured: bool,
    credit_cost: int,
    description: str,
) -> bool:
    """Save what changed (with its audit row); False when nothing did."""
    description = description.strip()
    if not 1 <= credit_cost <= COST_MAX:
        raise InvalidInput(f"A credit cost is a whole number from 1 to {COST_MAX:,}.")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(f"Keep the description under {DESCRIPTION_MAX:,} characters.")
    with services.uow() as uow:
        check_admin(uow.session, actor_id)
        row = uow.session.scalar(
            sa.select(CatalogueModel).where(CatalogueModel.endpoint_id == endpoint).with_for_update()
        )
        if row is None:
            raise NotFound("No such model.")
        wanted: dict[str, Any] = {
            "is_enabled": enabled,
            "is_featured": featured,
            "credit_cost": credit_cost,
            "description": description,
        }
        before = {name: getattr(row, name) for name in wanted if getattr(row, name) != wanted[name]}
        if not before:
            return False
        after = {name: wanted[name] for name in before}
        for name, value in after.items():
            setattr(row, name, value)
        audit(uow.session, actor_id, "model.update", "model", endpoint, before=before, after=after)
        uow.commit()
    return True
