"""Recent probing activity, for the heartbeat report and the summary line: probes/s and lag p99."""

from __future__ import annotations

import math
from dataclasses import dataclass


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples (0.0 when there are none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass(frozen=True, slots=True)
class Activity:
    """Probe starts over one window: how many, per second, and the 99th percentile of their lag."""

    started: int
    per_second: float
    lag_p99: float


class ProbeActivity:
    """The probe starts since the window was last taken; taking it starts the next window."""

    def __init__(self, since: float) -> None:
        self._since = since
        self._lags: list[float] = []

    def started(self, lag: float) -> None:
        """Note one probe start, `lag` seconds after its planned time."""
        self._lags.append(lag)

    def take(self, now: float) -> Activity:
        """The window up to `now` (loop time), which then begins again empty."""
        lags, self._lags = self._lags, []
        elapsed = max(now - self._since, 1e-9)
        self._since = now
        return Activity(len(lags), len(lags) / elapsed, percentile(lags, 0.99))
