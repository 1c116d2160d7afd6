"""Rollups: a webserver's probe counts and latency sketch over a UTC hour, day or week; how windows read them.

A window [start, end) is read from weekly rollups for its whole weeks (Monday to Monday, UTC), daily
rollups for its other whole days, hourly rollups for its other whole hours, and the raw probes for
the partial hours at its edges and for whatever is not rolled up yet (`Coverage`). The pieces never
overlap, so every probe is counted once; a year of one server is about 52 + 12 + 46 rollups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from healthmon.domain.latency_sketch import LatencySketch

HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
WEEK: Final = timedelta(weeks=1)
# A Monday at midnight UTC: weeks start on Mondays, as ISO 8601 weeks do; hours and days align alike.
_ORIGIN: Final = datetime(1970, 1, 5, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC-aligned step (hour, day or Monday-based week) that holds this moment."""
    utc = moment.astimezone(UTC)
    return utc - (utc - _ORIGIN) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    """The first UTC-aligned step boundary at or after this moment."""
    floor = floor_to(moment, step)
    return floor if floor == moment else floor + step


class Granularity(StrEnum):
    """How a window's statistics are split: not at all, or into UTC hours or days."""

    NONE = "none"
    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta | None:
        """The length of one bucket; None when the window is not split."""
        return {Granularity.HOUR: HOUR, Granularity.DAY: DAY}.get(self)


@dataclass(slots=True)
class Rollup:
    """Probes, successes and the latency sketch of the probes that got a response; a running total."""

    probes: int = 0
    successes: int = 0
    latency: LatencySketch = field(default_factory=LatencySketch)

    def record(self, *, success: bool, latency_ms: float | None) -> None:
        """Count one probe; latency_ms is None when it got no response."""
        self.probes += 1
        if success:
            self.successes += 1
        if latency_ms is not None:
            self.latency.add(latency_ms)

    def absorb(self, other: Rollup) -> None:
        """Add another rollup's counts to this one."""
        self.probes += other.probes
        self.successes += other.successes
        self.latency.absorb(other.latency)

    def copy(self) -> Rollup:
        """An independent copy."""
        return Rollup(self.probes, self.successes, self.latency.copy())


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open interval of time [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Coverage:
    """How far the rollups reach: hourly ones hold every probe started before hourly_until, daily ones
    before daily_until, weekly ones before weekly_until (None: everything stored)."""

    hourly_until: datetime | None = None
    daily_until: datetime | None = None
    weekly_until: datetime | None = None


def coverage_of(
    first_marked_hour: datetime | None, first_marked_day: datetime | None, first_marked_week: datetime | None
) -> Coverage:
    """The coverage the earliest marks leave: a day is complete once none of its hours is marked, and a
    week once none of its days or hours is."""
    days = [moment for moment in (first_marked_day, first_marked_hour) if moment is not None]
    daily_until = floor_to(min(days), DAY) if days else None
    weeks = [moment for moment in (first_marked_week, daily_until) if moment is not None]
    weekly_until = floor_to(min(weeks), WEEK) if weeks else None
    return Coverage(hourly_until=first_marked_hour, daily_until=daily_until, weekly_until=weekly_until)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Where each part of a window is read from; the spans tile the window without overlap."""

    raw: tuple[Span, ...]
    hourly: tuple[Span, ...]
    daily: tuple[Span, ...]
    weekly: tuple[Span, ...] = ()


def _spans(*pairs: tuple[datetime, datetime]) -> tuple[Span, ...]:
    return tuple(Span(start, end) for start, end in pairs if start < end)


def _earliest(moment: datetime, limit: datetime | None) -> datetime:
    return moment if limit is None or moment <= limit else limit


def _whole_steps(start: datetime, end: datetime, step: timedelta, until: datetime | None) -> Span | None:
    # The whole steps inside [start, end) that the rollups of that step cover, if any.
    first, last = ceil_to(start, step), floor_to(end, step)
    if until is not None:
        last = min(last, floor_to(until, step))
    return Span(first, last) if first < last else None


def plan_reads(window: Span, coverage: Coverage, granularity: Granularity) -> ReadPlan:
    """Weekly rollups for whole covered weeks (unsplit windows only), daily for other whole covered days
    (unless split by hour), hourly for other whole covered hours, raw probes for the rest."""
    first_hour, last_hour = ceil_to(window.start, HOUR), floor_to(window.end, HOUR)
    if first_hour >= last_hour:
        return ReadPlan(raw=_spans((window.start, window.end)), hourly=(), daily=())
    hours_end = max(first_hour, _earliest(last_hour, coverage.hourly_until))
    raw = _spans((window.start, first_hour), (hours_end, window.end))
    days = (
        None
        if granularity is Granularity.HOUR
        else _whole_steps(first_hour, hours_end, DAY, coverage.daily_until)
    )
    if days is None:
        return ReadPlan(raw=raw, hourly=_spans((first_hour, hours_end)), daily=())
    hourly = _spans((first_hour, days.start), (days.end, hours_end))
    weeks = None
    if granularity is Granularity.NONE:
        weeks = _whole_steps(days.start, days.end, WEEK, coverage.weekly_until)
    if weeks is None:
        return ReadPlan(raw=raw, hourly=hourly, daily=(days,))
    return ReadPlan(
        raw=raw,
        hourly=hourly,
        daily=_spans((days.start, weeks.start), (weeks.end, days.end)),
        weekly=(weeks,),
    )


__all__ = [
    "DAY",
    "HOUR",
    "WEEK",
    "Coverage",
    "Granularity",
    "ReadPlan",
    "Rollup",
    "Span",
    "ceil_to",
    "coverage_of",
    "floor_to",
    "plan_reads",
]
