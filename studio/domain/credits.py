"""Credits: the kinds of ledger rows, and what a generation costs.

One credit is worth CREDIT_MICROS of provider price: a standard one-megapixel image of the standard model
(FLUX.1 [dev], $0.025 per megapixel) costs 1 credit, premium models cost more, and no image costs less than
1 credit. Prices per megapixel are charged on whole megapixels, rounded up (1024×1024 is one megapixel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from studio.domain.catalogue import ModelSpec
from studio.domain.parameters import output_size

CREDIT_MICROS = 25_000
MEGAPIXEL = 1024 * 1024
FREE_PLAN_CREDITS = 100


class LedgerKind(StrEnum):
    """Every change of a balance is one of these, with a reason and a reference."""

    GRANT = "grant"  # plan credits at the start of a cycle
    RESERVE = "reserve"  # held when a job is accepted
    SETTLE = "settle"  # the final charge of a finished job (returns any unused part of the hold)
    REFUND = "refund"  # a reservation given back (failed or cancelled job)
    ADJUST = "adjust"  # an admin's correction, with a required reason
    EXPIRE = "expire"  # unused credits at the end of a cycle


@dataclass(frozen=True)
class Price:
    """What one job costs: credits held from the account, and the provider's price in micro-dollars."""

    credits_per_image: int
    images: int
    provider_micros_per_image: int

    @property
    def credits(self) -> int:
        return self.credits_per_image * self.images

    @property
    def provider_micros(self) -> int:
        return self.provider_micros_per_image * self.images


def billable_megapixels(width: int, height: int) -> int:
    return max(1, math.ceil(width * height / MEGAPIXEL))


def credits_for(price_micros: int) -> int:
    """Credits for one image whose provider price is `price_micros`: never below 1."""
    return max(1, math.ceil(price_micros / CREDIT_MICROS))


def standard_image_credits(spec: ModelSpec) -> int:
    """The catalogue's "credits per image": a one-megapixel image of this model."""
    return spec.credit_cost if spec.credit_cost is not None else credits_for(spec.price_micros)


def price(spec: ModelSpec, arguments: dict[str, Any], input_size: tuple[int, int] | None = None) -> Price:
    """The price of sending `arguments` (already validated) to this model; `input_size` is the input
    image's (the output of an edit or an upscale follows it)."""
    units = 1
    if spec.price_unit == "megapixel":
        units = billable_megapixels(*output_size(spec, arguments, input_size))
    images = int(arguments.get("num_images", 1))
    return Price(standard_image_credits(spec) * units, images, spec.price_micros * units)
