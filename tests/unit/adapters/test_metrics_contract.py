"""The Metrics port's contract: every adapter (in memory, prometheus-client) passes these unchanged.

The port is write-only, so each adapter comes with a reader of its own figures: the in-memory one's
accessors, or the samples the prometheus-client registry exposes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.adapters.prometheus_metrics import NAMESPACE, PrometheusMetrics
from healthmon.application.monitoring.metrics import (
    MONITOR_METRICS,
    PROBE_LAG,
    PROBES_FINISHED,
    PROBES_STARTED,
    SERVERS_HELD,
)
from healthmon.application.ports import Metric, MetricKind, Metrics

LATE = Metric("late_total", MetricKind.COUNTER, "A counter no adapter was told of in advance.")


@dataclass(frozen=True)
class Adapter:
    """An adapter under test and how to read back what it counted."""

    metrics: Metrics
    # A counter's or a gauge's value, for one label value or (None) summed over them all.
    value: Callable[[Metric, str | None], float]
    # A histogram's count and sum of observations.
    histogram: Callable[[Metric], tuple[float, float]]


def in_memory() -> Adapter:
    metrics = InMemoryMetrics()

    def histogram(metric: Metric) -> tuple[float, float]:
        figures = metrics.histogram(metric)
        return figures.count, figures.total

    return Adapter(metrics, metrics.value, histogram)


def prometheus() -> Adapter:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(MONITOR_METRICS, registry)

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        found = registry.get_sample_value(f"{NAMESPACE}_{name}", labels or {})
        return 0.0 if found is None else found

    def value(metric: Metric, label: str | None = None) -> float:
        if metric.kind is MetricKind.GAUGE:
            return sample(metric.name)
        name = metric.name  # counters are exposed as <name> (ending in _total already)
        if metric.label is None:
            return sample(name)
        values = metric.values if label is None else (label,)
        return sum(sample(name, {metric.label: each}) for each in values)

    def histogram(metric: Metric) -> tuple[float, float]:
        return sample(f"{metric.name}_count"), sample(f"{metric.name}_sum")

    return Adapter(metrics, value, histogram)


@pytest.fixture(params=[in_memory, prometheus], ids=["memory", "prometheus"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    made: Adapter = request.param()
    return made


def test_counters_add_up_per_label_and_in_all(adapter: Adapter) -> None:
    adapter.metrics.add(PROBES_FINISHED, 1, "success")
    adapter.metrics.add(PROBES_FINISHED, 2, "failure")
    adapter.metrics.add(PROBES_STARTED)
    adapter.metrics.add(PROBES_STARTED, 2.5)
    assert adapter.value(PROBES_FINISHED, "failure") == 2
    assert adapter.value(PROBES_FINISHED, None) == 3
    assert adapter.value(PROBES_STARTED, None) == 3.5


def test_a_counter_never_goes_down_and_takes_only_its_own_label_values(adapter: Adapter) -> None:
    with pytest.raises(ValueError, match="cannot go down"):
        adapter.metrics.add(PROBES_STARTED, -1)
    with pytest.raises(ValueError, match="no label value"):
        adapter.metrics.add(PROBES_FINISHED, 1, "http://server.test/")
    with pytest.raises(ValueError, match="no label value"):
        adapter.metrics.add(PROBES_FINISHED)
    with pytest.raises(ValueError, match="no label value"):
        adapter.metrics.add(PROBES_STARTED, 1, "success")
    assert adapter.value(PROBES_STARTED, None) == 0
    assert adapter.value(PROBES_FINISHED, None) == 0


def test_each_call_must_match_the_metric_kind(adapter: Adapter) -> None:
    with pytest.raises(TypeError):
        adapter.metrics.set(PROBES_STARTED, 1)
    with pytest.raises(TypeError):
        adapter.metrics.observe(SERVERS_HELD, 1)
    with pytest.raises(TypeError):
        adapter.metrics.add(PROBE_LAG)


def test_a_gauge_holds_its_last_value(adapter: Adapter) -> None:
    adapter.metrics.set(SERVERS_HELD, 5)
    adapter.metrics.set(SERVERS_HELD, 3)
    assert adapter.value(SERVERS_HELD, None) == 3


def test_a_histogram_counts_and_sums_its_observations(adapter: Adapter) -> None:
    for observed in (0.5, 3.0, 1.0):
        adapter.metrics.observe(PROBE_LAG, observed)
    assert adapter.histogram(PROBE_LAG) == (3, 4.5)


def test_a_metric_not_declared_in_advance_counts_too(adapter: Adapter) -> None:
    adapter.metrics.add(LATE, 2)
    assert adapter.value(LATE, None) == 2


def test_counts_from_many_threads_all_arrive(adapter: Adapter) -> None:
    def count() -> None:
        for _ in range(1000):
            adapter.metrics.add(PROBES_FINISHED, 1, "success")
            adapter.metrics.observe(PROBE_LAG, 0.001)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adapter.value(PROBES_FINISHED, "success") == 4000
    assert adapter.histogram(PROBE_LAG)[0] == 4000


def test_the_prometheus_adapter_uses_its_own_registry_and_lists_every_declared_series() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(MONITOR_METRICS, registry)
    exposed = {family.name for family in registry.collect()}
    # prometheus-client names a counter family without its _total suffix.
    assert exposed == {f"{NAMESPACE}_{metric.name.removesuffix('_total')}" for metric in MONITOR_METRICS}
    assert registry.get_sample_value("healthmon_probes_finished_total", {"result": "failure"}) == 0
    # A second adapter on another registry does not collide with the first.
    PrometheusMetrics(MONITOR_METRICS, CollectorRegistry())


def test_names_follow_prometheus_conventions() -> None:
    for metric in MONITOR_METRICS:
        assert metric.name == metric.name.lower()
        assert metric.name.endswith("_total") == (metric.kind is MetricKind.COUNTER), metric.name
        if metric.kind is MetricKind.HISTOGRAM:
            assert metric.name.endswith("_seconds"), metric.name
