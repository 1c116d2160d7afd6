"""The in-memory metrics refuse what a real metrics backend would, and read back what was counted."""

from __future__ import annotations

import pytest

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.application.monitoring.metrics import (
    MONITOR_METRICS,
    PROBE_LAG,
    PROBES_FINISHED,
    PROBES_STARTED,
    SERVERS_HELD,
)
from healthmon.application.ports import Metric, MetricKind


def test_counters_add_up_per_label_and_in_all() -> None:
    metrics = InMemoryMetrics()
    metrics.add(PROBES_FINISHED, 1, "success")
    metrics.add(PROBES_FINISHED, 2, "failure")
    assert metrics.value(PROBES_FINISHED, "failure") == 2
    assert metrics.value(PROBES_FINISHED) == 3
    assert metrics.value(PROBES_STARTED) == 0


def test_a_counter_never_goes_down_and_takes_only_its_own_label_values() -> None:
    metrics = InMemoryMetrics()
    with pytest.raises(ValueError, match="cannot go down"):
        metrics.add(PROBES_STARTED, -1)
    with pytest.raises(ValueError, match="no label value"):
        metrics.add(PROBES_FINISHED, 1, "http://server.test/")
    with pytest.raises(ValueError, match="no label value"):
        metrics.add(PROBES_FINISHED)
    with pytest.raises(ValueError, match="no label value"):
        metrics.add(PROBES_STARTED, 1, "success")


def test_each_call_must_match_the_metric_kind() -> None:
    metrics = InMemoryMetrics()
    with pytest.raises(TypeError):
        metrics.set(PROBES_STARTED, 1)
    with pytest.raises(TypeError):
        metrics.observe(SERVERS_HELD, 1)


def test_a_gauge_holds_its_last_value() -> None:
    metrics = InMemoryMetrics()
    metrics.set(SERVERS_HELD, 5)
    metrics.set(SERVERS_HELD, 3)
    assert metrics.value(SERVERS_HELD) == 3


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
