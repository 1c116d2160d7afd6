"""Metrics as prometheus-client counters, gauges and histograms, in a registry of this process's own."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from healthmon.application.ports import Metric, MetricKind, Metrics

NAMESPACE: Final = "healthmon"


class PrometheusMetrics(Metrics):
    """Each Metric becomes one prometheus-client instrument named `healthmon_<name>` in `registry`.

    - Declared metrics are registered up front, every label value at zero, so a scrape lists every
      series from the start; any other metric is registered on its first use.
    - It refuses what InMemoryMetrics refuses: a counter going down, a label value the metric does
      not list, a call that does not match the metric's kind.
    - The registry is its own (never prometheus-client's global one), so two processes' worth of
      metrics in one test never mix.
    """

    def __init__(self, declared: Iterable[Metric] = (), registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Gauge] = {}
        self._histograms: dict[str, Histogram] = {}
        for metric in declared:
            self._known(metric)

    def add(self, metric: Metric, amount: float = 1, label: str | None = None) -> None:
        _expect(metric, MetricKind.COUNTER)
        if amount < 0:
            raise ValueError(f"counter {metric.name} cannot go down (by {amount})")
        if (label is None) != (metric.label is None) or (label is not None and label not in metric.values):
            raise ValueError(f"counter {metric.name} takes no label value {label!r}")
        self._known(metric)
        counter = self._counters[metric.name]
        (counter if label is None else counter.labels(label)).inc(amount)

    def set(self, metric: Metric, value: float) -> None:
        _expect(metric, MetricKind.GAUGE)
        self._known(metric)
        self._gauges[metric.name].set(value)

    def observe(self, metric: Metric, value: float) -> None:
        _expect(metric, MetricKind.HISTOGRAM)
        self._known(metric)
        self._histograms[metric.name].observe(value)

    def _known(self, metric: Metric) -> None:
        registered = self._metrics.get(metric.name)
        if registered is None:
            with self._lock:
                registered = self._metrics.get(metric.name)
                if registered is None:
                    self._register(metric)
                    registered = self._metrics[metric.name] = metric
        if registered is not metric and registered != metric:
            raise ValueError(f"another metric is already registered as {metric.name}")

    def _register(self, metric: Metric) -> None:
        labels = () if metric.label is None else (metric.label,)
        name, about, registry = metric.name, metric.description, self.registry
        if metric.kind is MetricKind.COUNTER:
            counter = Counter(name, about, labels, namespace=NAMESPACE, registry=registry)
            for value in metric.values:
                counter.labels(value)
            self._counters[name] = counter
        elif metric.kind is MetricKind.GAUGE:
            self._gauges[name] = Gauge(name, about, labels, namespace=NAMESPACE, registry=registry)
        else:
            buckets = metric.buckets or Histogram.DEFAULT_BUCKETS
            self._histograms[name] = Histogram(
                name, about, labels, namespace=NAMESPACE, registry=registry, buckets=buckets
            )


def _expect(metric: Metric, kind: MetricKind) -> None:
    if metric.kind is not kind:
        raise TypeError(f"{metric.name} is a {metric.kind}, not a {kind}")
