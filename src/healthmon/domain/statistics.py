"""Statistics of one webserver over a window: uptime, latency percentiles, time in each health, incidents.

- probes and successes count the probes with start <= started_at < end; uptime is their ratio.
- Latency percentiles come from merged sketches (within 1 %, see latency_sketch.py); max is exact.
- Health seconds are time-weighted from the health changes, clipped to the window, to the time the
  server has existed and to now (the future has no health yet).
- Incidents are the changes into unhealthy inside the window.
- Buckets (UTC hours or days) tile the window, clipped at its edges; their counts add up to the totals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.health import HealthState
from healthmon.domain.rollups import Granularity, Rollup, Span, floor_to

# The longest window statistics are asked for: more than a year, with room for a leap day.
MAX_WINDOW: Final = timedelta(days=400)
DEFAULT_WINDOW: Final = timedelta(hours=24)
QUANTILES: Final = (0.5, 0.95, 0.99)


def stats_window(start: datetime | None, end: datetime | None, now: datetime) -> Span:
    """The window asked for: end defaults to now, start to end - 24 h; both need a timezone,
    start < end, and at most MAX_WINDOW between them (InvalidField naming from/to otherwise)."""
    problems = [
        FieldProblem(name, "must include a timezone")
        for name, moment in (("from", start), ("to", end))
        if moment is not None and moment.utcoffset() is None
    ]
    if problems:
        raise InvalidField(*problems)
    end = now if end is None else end
    start = end - DEFAULT_WINDOW if start is None else start
    if start >= end:
        raise InvalidField.single("from", "must be before to")
    if end - start > MAX_WINDOW:
        raise InvalidField.single("from", f"must be at most {MAX_WINDOW.days} days before to")
    return Span(start, end)


@dataclass(frozen=True, slots=True)
class StateChange:
    """A webserver's health became `to_state` at `at`."""

    at: datetime
    to_state: HealthState


@dataclass(frozen=True, slots=True)
class HealthHistory:
    """What a window needs of the health changes: the state at its start and the changes inside it."""

    initial: HealthState
    changes: tuple[StateChange, ...]

    @classmethod
    def of(cls, changes: Iterable[StateChange], start: datetime) -> HealthHistory:
        """From changes in time order, of which those before `start` only set the initial state."""
        initial = HealthState.UNKNOWN
        inside: list[StateChange] = []
        for change in changes:
            if change.at < start:
                initial = change.to_state
            else:
                inside.append(change)
        return cls(initial, tuple(inside))


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency percentiles (within 1 %) and the exact maximum, in milliseconds."""

    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class HealthSeconds:
    """Seconds spent in each health state."""

    healthy: float = 0.0
    unhealthy: float = 0.0
    unknown: float = 0.0


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The statistics of one window (or bucket); buckets is empty for a bucket or an unsplit window."""

    start: datetime
    end: datetime
    probes: int
    successes: int
    latency: LatencySummary | None
    health: HealthSeconds
    incidents: int
    buckets: tuple[WindowStats, ...] = ()

    @property
    def uptime(self) -> float | None:
        """successes / probes, None when there was no probe."""
        return self.successes / self.probes if self.probes else None


def latency_summary(rollup: Rollup) -> LatencySummary | None:
    """The percentiles and maximum of a rollup's sketch; None when no probe got a response."""
    quantiles = rollup.latency.quantiles(*QUANTILES)
    if quantiles is None or rollup.latency.max_ms is None:
        return None
    p50, p95, p99 = quantiles
    return LatencySummary(p50=p50, p95=p95, p99=p99, max=rollup.latency.max_ms)


def _health_segments(
    history: HealthHistory, window: Span, created_at: datetime, now: datetime
) -> list[tuple[datetime, datetime, HealthState]]:
    start = max(window.start, created_at)
    end = min(window.end, now)
    segments: list[tuple[datetime, datetime, HealthState]] = []
    state, since = history.initial, start
    for change in history.changes:
        if change.at > since:
            segments.append((since, min(change.at, end), state))
        state, since = change.to_state, max(since, change.at)
        if since >= end:
            break
    if since < end:
        segments.append((since, end, state))
    return [segment for segment in segments if segment[0] < segment[1]]


class _Timeline:
    """Health segments and incident times in order, so each bucket finds its own by bisection."""

    def __init__(self, history: HealthHistory, window: Span, created_at: datetime, now: datetime) -> None:
        self.segments = _health_segments(history, window, created_at, now)
        self._ends = [end for _, end, _ in self.segments]
        self._incidents = [
            change.at for change in history.changes if change.to_state is HealthState.UNHEALTHY
        ]

    def seconds_in(self, span: Span) -> HealthSeconds:
        totals = dict.fromkeys(HealthState, 0.0)
        for index in range(bisect.bisect_right(self._ends, span.start), len(self.segments)):
            start, end, state = self.segments[index]
            if start >= span.end:
                break
            totals[state] += (min(end, span.end) - max(start, span.start)).total_seconds()
        return HealthSeconds(
            healthy=totals[HealthState.HEALTHY],
            unhealthy=totals[HealthState.UNHEALTHY],
            unknown=totals[HealthState.UNKNOWN],
        )

    def incidents_in(self, span: Span) -> int:
        return bisect.bisect_left(self._incidents, span.end) - bisect.bisect_left(self._incidents, span.start)


def bucket_spans(window: Span, granularity: Granularity) -> list[Span]:
    """The UTC-aligned buckets that tile the window, the first and last clipped to it."""
    step = granularity.step
    if step is None:
        return [window]
    spans: list[Span] = []
    start = floor_to(window.start, step)
    while start < window.end:
        spans.append(Span(max(start, window.start), min(start + step, window.end)))
        start += step
    return spans


def window_stats(
    window: Span,
    granularity: Granularity,
    pieces: Iterable[tuple[datetime, Rollup]],
    history: HealthHistory,
    *,
    created_at: datetime,
    now: datetime,
) -> WindowStats:
    """Assemble a window's statistics from rollup pieces keyed by the start of their hour or day.

    Every piece lies inside the window and inside one bucket (plan_reads makes them so).
    """
    step = granularity.step
    spans = bucket_spans(window, granularity)
    totals = Rollup()
    per_bucket: dict[datetime, Rollup] = {}
    for key, rollup in pieces:
        totals.absorb(rollup)
        if step is not None:
            bucket_start = max(floor_to(key, step), window.start)
            per_bucket.setdefault(bucket_start, Rollup()).absorb(rollup)
    timeline = _Timeline(history, window, created_at, now)

    def stats_of(span: Span, rollup: Rollup, buckets: tuple[WindowStats, ...] = ()) -> WindowStats:
        return WindowStats(
            start=span.start,
            end=span.end,
            probes=rollup.probes,
            successes=rollup.successes,
            latency=latency_summary(rollup),
            health=timeline.seconds_in(span),
            incidents=timeline.incidents_in(span),
            buckets=buckets,
        )

    buckets: tuple[WindowStats, ...] = ()
    if step is not None:
        buckets = tuple(stats_of(span, per_bucket.get(span.start, Rollup())) for span in spans)
    return stats_of(window, totals, buckets)


__all__ = [
    "DEFAULT_WINDOW",
    "MAX_WINDOW",
    "QUANTILES",
    "HealthHistory",
    "HealthSeconds",
    "LatencySummary",
    "StateChange",
    "WindowStats",
    "bucket_spans",
    "latency_summary",
    "stats_window",
    "window_stats",
]
