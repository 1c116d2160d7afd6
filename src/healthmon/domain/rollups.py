"""Rollups: a webserver's probe counts and latency sketch over a UTC hour or day, and how windows read them.

A window [start, end) is read from daily rollups for its whole days, hourly rollups for its other
whole hours, and the raw probes for the partial hours at its edges and for whatever is not rolled
up yet (`Coverage`). The pieces never overlap, so every probe is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from healthmon.domain.latency_sketch import LatencySketch

HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC-aligned step (hour or day) that holds this moment."""
    utc = moment.astimezone(UTC)
    return utc - (utc - _EPOCH) % step


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
    every probe started before daily_until (None: everything stored)."""

    hourly_until: datetime | None = None
    daily_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Where each part of a window is read from; the spans tile the window without overlap."""

    raw: tuple[Span, ...]
    hourly: tuple[Span, ...]
    daily: tuple[Span, ...]


def _spans(*pairs: tuple[datetime, datetime]) -> tuple[Span, ...]:
    return tuple(Span(start, end) for start, end in pairs if start < end)


def _earliest(moment: datetime, limit: datetime | None) -> datetime:
    return moment if limit is None or moment <= limit else limit


def plan_reads(window: Span, coverage: Coverage, granularity: Granularity) -> ReadPlan:
    """Daily rollups for whole covered days (unless split by hour), hourly for other whole covered hours,
    raw probes for partial hours and whatever the rollups do not cover yet."""
    first_hour, last_hour = ceil_to(window.start, HOUR), floor_to(window.end, HOUR)
    if first_hour >= last_hour:
        return ReadPlan(raw=_spans((window.start, window.end)), hourly=(), daily=())
    hours_end = max(first_hour, _earliest(last_hour, coverage.hourly_until))
    raw = _spans((window.start, first_hour), (hours_end, window.end))
    first_day, last_day = ceil_to(first_hour, DAY), floor_to(hours_end, DAY)
    daily_until = coverage.daily_until
    if daily_until is not None:
        last_day = min(last_day, floor_to(daily_until, DAY))
    if granularity is Granularity.HOUR or first_day >= last_day:
        return ReadPlan(raw=raw, hourly=_spans((first_hour, hours_end)), daily=())
    return ReadPlan(
        raw=raw,
        hourly=_spans((first_hour, first_day), (last_day, hours_end)),
        daily=_spans((first_day, last_day)),
    )


__all__ = [
    "DAY",
    "HOUR",
    "Coverage",
    "Granularity",
    "ReadPlan",
    "Rollup",
    "Span",
    "ceil_to",
    "floor_to",
    "plan_reads",
]
