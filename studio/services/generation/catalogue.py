"""The model catalogue in the database: seeded from `studio.domain.catalogue`, read by pages and jobs."""

from __future__ import annotations

import sqlalchemy as sa

from studio.adapters.db.models import CatalogueModel
from studio.domain.catalogue import CATALOGUE, ModelSpec, Param
from studio.domain.credits import standard_image_credits
from studio.errors import InvalidInput
from studio.services.context import Services

# Any constant works (not the migrations' one): every process seeding the same database waits on it.
_SYNC_LOCK_ID = 7_242_002


def sync_catalogue(services: Services) -> int:
    """Insert the catalogue's models and refresh their names, schemas and prices.

    Whether a model is enabled, what it costs in credits, whether it is featured and its description
    belong to the admins once a row exists (the Models admin page), so those are set only when the row is
    first created. Returns how many rows were added.
    """
    added = 0
    with services.uow() as uow:
        if uow.session.get_bind().dialect.name == "postgresql":
            # The app and its workers start together: one at a time, or their first inserts collide.
            uow.session.execute(sa.text(f"SELECT pg_advisory_xact_lock({_SYNC_LOCK_ID})"))
        rows = {row.endpoint_id: row for row in uow.session.scalars(sa.select(CatalogueModel))}
        for spec in CATALOGUE:
            row = rows.get(spec.endpoint_id)
            if row is None:
                row = CatalogueModel(
                    endpoint_id=spec.endpoint_id,
                    credit_cost=standard_image_credits(spec),
                    is_enabled=True,
                    description=spec.description,
                    is_featured=spec.featured,
                )
                uow.session.add(row)
                added += 1
            row.name = spec.name
            row.category = spec.category
            row.capabilities = list(spec.capabilities)
            row.params_schema = spec.schema_json()
            row.price_micros = spec.price_micros
            row.price_unit = spec.price_unit
            row.speed_hint = spec.speed
            row.quality_hint = spec.quality
            row.sort_order = spec.sort_order
        uow.commit()
    return added


def spec_of(row: CatalogueModel) -> ModelSpec:
    schema = row.params_schema
    return ModelSpec(
        endpoint_id=row.endpoint_id,
        name=row.name,
        description=row.description,
        category=row.category,
        capabilities=tuple(row.capabilities),
        speed=row.speed_hint or "medium",
        quality=row.quality_hint or "standard",
        expected_seconds=float(schema.get("expected_seconds", 10.0)),
        price_micros=row.price_micros,
        price_unit=row.price_unit,
        params=tuple(Param.from_json(item) for item in schema.get("params", [])),
        negative_prompt=bool(schema.get("negative_prompt", False)),
        price_note=str(schema.get("price_note", "")),
        sort_order=row.sort_order,
        featured=row.is_featured,
        fixed=dict(schema.get("fixed", {})),
        credit_cost=row.credit_cost,
        operation=str(schema.get("operation", "text_to_image")),
        inputs=tuple(schema.get("inputs", ())),
        prompt=str(schema.get("prompt", "required")),
        size_rule=str(schema.get("size_rule", "params")),
        outputs=tuple(schema.get("outputs", ("images", "image"))),
    )


def generators(services: Services) -> list[ModelSpec]:
    """The enabled models the Generate page offers (the tools run from an image instead)."""
    return [spec for spec in enabled_models(services) if spec.generates]


def tool(services: Services, operation: str) -> ModelSpec | None:
    """The enabled endpoint that runs this operation (inpaint, outpaint, upscale ...), None when off."""
    return next((spec for spec in enabled_models(services) if spec.operation == operation), None)


def enabled_models(services: Services) -> list[ModelSpec]:
    """The models and tools people can use, in catalogue order."""
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(CatalogueModel)
            .where(CatalogueModel.is_enabled)
            .order_by(CatalogueModel.sort_order, CatalogueModel.name)
        )
        return [spec_of(row) for row in rows]


def model_spec(services: Services, endpoint_id: str, *, enabled_only: bool = True) -> ModelSpec:
    """One model of the catalogue; InvalidInput when it is unknown or switched off."""
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(CatalogueModel).where(CatalogueModel.endpoint_id == endpoint_id))
        if row is None or (enabled_only and not row.is_enabled):
            raise InvalidInput(f"The model {endpoint_id!r} is not available.")
        return spec_of(row)
