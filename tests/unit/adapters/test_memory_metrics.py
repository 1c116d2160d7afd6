"""What only the in-memory metrics do (keep the latest samples); the contract is in test_metrics_contract."""

from __future__ import annotations

import pytest

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.application.monitoring.metrics import MONITOR_METRICS, PROBE_LAG
from healthmon.application.ports import Metric, MetricKind


def test_a_histogram_counts_everything_and_keeps_the_latest_samples() -> None:
    metrics = InMemoryMetrics(samples_kept=2)
    for value in (0.5, 3.0, 1.0):
        metrics.observe(PROBE_LAG, value)
    figures = metrics.histogram(PROBE_LAG)
    assert (figures.count, figures.total, figures.maximum) == (3, 4.5, 3.0)
    assert figures.samples == [3.0, 1.0]


def test_metric_names_are_unique_and_labels_closed() -> None:
    assert len({metric.name for metric in MONITOR_METRICS}) == len(MONITOR_METRICS)
    with pytest.raises(ValueError, match="needs its values"):
        Metric("by_url", MetricKind.COUNTER, "Probes by URL.", label="url")
    with pytest.raises(ValueError, match="only counters"):
        Metric("lag", MetricKind.HISTOGRAM, "Lag.", label="host", values=("a",))
