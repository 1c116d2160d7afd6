"""Recent probing activity, for the heartbeat report and the summary line: probes/s and lag p99."""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.domain.latency_sketch import LatencySketch


@dataclass(frozen=True, slots=True)
class Activity:
    """Probe starts over one window: how many, per second, and the 99th percentile of their lag."""

    started: int
    per_second: float
    lag_p99: float


class ProbeActivity:
    """The probe starts since the window was last taken; taking it starts the next window.

    Lags are counted in a latency sketch (the p99 within 1 %), so a window holds the same few
    buckets however many probes it saw: a minute's list of lags was 6 MB at 3,000 probes/s.
    """

    def __init__(self, since: float) -> None:
        self._since = since
        self._started = 0
        self._lags = LatencySketch()

    def started(self, lag: float) -> None:
        """Note one probe start, `lag` seconds after its planned time."""
        self._started += 1
        self._lags.add(lag * 1000)

    def take(self, now: float) -> Activity:
        """The window up to `now` (loop time), which then begins again empty."""
        started, lags = self._started, self._lags
        self._started, self._lags = 0, LatencySketch()
        elapsed = max(now - self._since, 1e-9)
        self._since = now
        p99 = lags.quantiles(0.99)
        return Activity(started, started / elapsed, 0.0 if p99 is None else p99[0] / 1000)
