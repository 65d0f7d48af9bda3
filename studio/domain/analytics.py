"""Analytics arithmetic: date ranges, rates, percentiles and margins, the same on every database.

Percentiles interpolate linearly between the two nearest ranks, exactly as PostgreSQL's `percentile_cont`
does, so a figure computed in Python (SQLite) equals the one PostgreSQL computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

PRESETS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
MAX_DAYS = 3660


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days from `first` to `last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a range ends on or after the day it starts")

    @classmethod
    def last_days(cls, days: int, today: date) -> DateRange:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the range."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def __str__(self) -> str:
        return f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile of `values` by linear interpolation (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def gross_margin(revenue_cents: int, cost_micros: int) -> float | None:
    """(revenue - provider cost) / revenue; None without revenue. One cent is 10,000 micro-dollars."""
    if revenue_cents <= 0:
        return None
    revenue_micros = revenue_cents * 10_000
    return (revenue_micros - cost_micros) / revenue_micros


def dollars_from_micros(micros: int) -> float:
    return micros / 1_000_000


def dollars_from_cents(cents: int) -> float:
    return cents / 100
