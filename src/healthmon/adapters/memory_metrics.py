"""Metrics kept in process memory: the default sink, and what tests and benchmarks read back."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from healthmon.application.ports import Metric, MetricKind, Metrics

# Enough recent observations for a benchmark window or a test, bounded so a long-running
# service does not grow without end.
SAMPLES_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class HistogramFigures:
    """What a histogram saw: every observation's count, sum and maximum, and the latest samples."""

    count: int
    total: float
    maximum: float
    samples: list[float]


class _Histogram:
    __slots__ = ("count", "maximum", "samples", "total")

    def __init__(self, kept: int | None) -> None:
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0
        self.samples: collections.deque[float] = collections.deque(maxlen=kept)


class InMemoryMetrics(Metrics):
    """Counters, gauges and histograms in dicts; it refuses what a real metrics backend would.

    - A counter only goes up; a label value must be one the metric lists; each call must match the kind.
    - A histogram keeps the latest `samples_kept` observations (all of them with None).
    - Reads and writes may come from any thread.
    """

    def __init__(self, samples_kept: int | None = SAMPLES_KEPT) -> None:
        self._lock = threading.Lock()
        self._samples_kept = samples_kept
        # Keyed by name: a metric's own hash would cover every field, on every call.
        self._counters: dict[tuple[str, str | None], float] = {}
        self._gauges: dict[str, float] = {}
        self._histograms: dict[str, _Histogram] = {}

    def add(self, metric: Metric, amount: float = 1, label: str | None = None) -> None:
        _expect(metric, MetricKind.COUNTER)
        if amount < 0:
            raise ValueError(f"counter {metric.name} cannot go down (by {amount})")
        if (label is None) != (metric.label is None) or (label is not None and label not in metric.values):
            raise ValueError(f"counter {metric.name} takes no label value {label!r}")
        with self._lock:
            key = (metric.name, label)
            self._counters[key] = self._counters.get(key, 0.0) + amount

    def set(self, metric: Metric, value: float) -> None:
        _expect(metric, MetricKind.GAUGE)
        with self._lock:
            self._gauges[metric.name] = value

    def observe(self, metric: Metric, value: float) -> None:
        _expect(metric, MetricKind.HISTOGRAM)
        with self._lock:
            histogram = self._histograms.get(metric.name)
            if histogram is None:
                self._histograms[metric.name] = histogram = _Histogram(self._samples_kept)
            histogram.count += 1
            histogram.total += value
            histogram.maximum = max(histogram.maximum, value)
            histogram.samples.append(value)

    def value(self, metric: Metric, label: str | None = None) -> float:
        """A gauge's value, or a counter's total: for one label value, or over all of them."""
        with self._lock:
            if metric.kind is MetricKind.GAUGE:
                return self._gauges.get(metric.name, 0.0)
            _expect(metric, MetricKind.COUNTER)
            if label is not None:
                return self._counters.get((metric.name, label), 0.0)
            return sum(amount for (name, _), amount in self._counters.items() if name == metric.name)

    def histogram(self, metric: Metric) -> HistogramFigures:
        """What the histogram has seen so far."""
        _expect(metric, MetricKind.HISTOGRAM)
        with self._lock:
            histogram = self._histograms.get(metric.name) or _Histogram(0)
            return HistogramFigures(
                histogram.count, histogram.total, histogram.maximum, list(histogram.samples)
            )


def _expect(metric: Metric, kind: MetricKind) -> None:
    if metric.kind is not kind:
        raise TypeError(f"{metric.name} is a {metric.kind}, not a {kind}")
