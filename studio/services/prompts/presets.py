"""Named generation presets: a model and its parameters (LoRAs included), maybe a prompt or template.

Saved from Generate, applied there in one click, listed in the library, and picked as a project's
defaults. A preset keeps the request as the form holds it (studio.domain.parameters.Request); the
parameters are checked again whenever it is used, so a preset never sends what a model refuses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from studio.adapters.db.models import Preset, utcnow
from studio.domain.catalogue import BY_ENDPOINT
from studio.domain.parameters import Request, provider_arguments
from studio.domain.prompts import PRESET_NAME_MAX_CHARS
from studio.errors import InvalidInput, InvalidParameters, NotFound
from studio.services.context import Services

MAX_PRESETS = 100


@dataclass(frozen=True)
class PresetView:
    id: uuid.UUID
    name: str
    request: Request
    updated_at: datetime


def save(
    services: Services, owner_id: uuid.UUID, name: str, request: Request, *, keep_prompt: bool
) -> PresetView:
    """Save (or replace) the preset `name`: the model and parameters, the prompt too with `keep_prompt`.
    The seed is not kept: a preset makes new images."""
    name = name.strip()
    if not 1 <= len(name) <= PRESET_NAME_MAX_CHARS:
        raise InvalidInput(f"A preset's name is 1 to {PRESET_NAME_MAX_CHARS} characters.")
    spec = BY_ENDPOINT.get(request.model)
    if spec is None:
        raise InvalidInput(f"The model {request.model!r} is not available.")
    params = {key: value for key, value in request.params.items() if key != "seed"}
    kept = replace(request, params=params, image_id="", pick_seed=None)
    if not keep_prompt:
        kept = replace(kept, prompt="", negative_prompt="", template="", values={})
    try:
        checked = replace(kept, prompt=kept.prompt or "preset")
        provider_arguments(spec, checked, dict.fromkeys(spec.inputs, "x"))
    except InvalidParameters as err:
        raise InvalidParameters(
            [f"The preset cannot be saved: {problem}" for problem in err.problems]
        ) from None
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(Preset).where(Preset.owner_id == owner_id, Preset.name == name))
        if row is None:
            count = uow.session.scalar(sa.select(sa.func.count()).where(Preset.owner_id == owner_id))
            if (count or 0) >= MAX_PRESETS:
                raise InvalidInput(f"You can keep at most {MAX_PRESETS} presets.")
            row = Preset(id=uuid.uuid4(), owner_id=owner_id, name=name)
            uow.session.add(row)
        row.request = kept.to_json()
        row.updated_at = utcnow()
        uow.commit()
        return PresetView(row.id, row.name, kept, row.updated_at)


def presets(services: Services, owner_id: uuid.UUID) -> list[PresetView]:
    with services.uow() as uow:
        rows = uow.session.scalars(
            sa.select(Preset).where(Preset.owner_id == owner_id).order_by(sa.func.lower(Preset.name))
        )
        return [PresetView(row.id, row.name, Request.from_json(row.request), row.updated_at) for row in rows]


def get(services: Services, owner_id: uuid.UUID, preset_id: uuid.UUID) -> PresetView:
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(Preset).where(Preset.id == preset_id, Preset.owner_id == owner_id))
        if row is None:
            raise NotFound("No such preset.")
        return PresetView(row.id, row.name, Request.from_json(row.request), row.updated_at)


def delete(services: Services, owner_id: uuid.UUID, preset_id: uuid.UUID) -> None:
    with services.uow() as uow:
        row = uow.session.scalar(sa.select(Preset).where(Preset.id == preset_id, Preset.owner_id == owner_id))
        if row is None:
            raise NotFound("No such preset.")
        uow.session.delete(row)
        uow.commit()
