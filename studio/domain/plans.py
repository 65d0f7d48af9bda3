"""Plans: monthly credits for a monthly price, billing cycles that survive short months, and the margin
each plan keeps when every credit is used.

One credit is at most CREDIT_MICROS of provider price (prices round credits up), so a plan used in full
costs at most `monthly_credits × CREDIT_MICROS`; `full_use_cost_micros` gives the exact figure per model.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from studio.domain.catalogue import ModelSpec
from studio.domain.credits import FREE_PLAN_CREDITS, standard_image_credits

FREE = "free"


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str
    monthly_credits: int
    price_cents: int  # per month, in US cents
    sort_order: int

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0


PLANS: tuple[PlanSpec, ...] = (
    PlanSpec(FREE, "Free", FREE_PLAN_CREDITS, 0, 0),
    PlanSpec("starter", "Starter", 300, 1_900, 1),
    PlanSpec("pro", "Pro", 500, 2_900, 2),
    PlanSpec("studio", "Studio", 1_000, 5_900, 3),
)
BY_CODE = {plan.code: plan for plan in PLANS}


def add_months(start: datetime, months: int, anchor_day: int) -> datetime:
    """`start` moved by `months`, on `anchor_day` or the month's last day: a cycle begun on 31 January
    renews on 28 (or 29) February, then on 31 March."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def next_period(start: datetime, anchor_day: int) -> datetime:
    return add_months(start, 1, anchor_day)


def full_use_cost_micros(plan: PlanSpec, spec: ModelSpec) -> int:
    """The provider's price for a month in which every credit goes to one-megapixel images of `spec`."""
    images = plan.monthly_credits // standard_image_credits(spec)
    return images * spec.price_micros


def margin(plan: PlanSpec, cost_micros: int) -> float:
    """Gross margin of a paid plan at that cost (price minus provider cost, over price)."""
    price_micros = plan.price_cents * 10_000
    return (price_micros - cost_micros) / price_micros
