"""The activity windows of the heartbeat report and the summary line."""

from __future__ import annotations

from healthmon.application.monitoring.activity import ProbeActivity, percentile


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 0.5) == 50.0
    assert percentile([], 0.99) == 0.0


def test_a_window_counts_the_starts_since_it_was_last_taken() -> None:
    activity = ProbeActivity(since=10.0)
    for lag in (0.1, 0.2, 0.3, 0.4):
        activity.started(lag)
    window = activity.take(12.0)
    assert (window.started, window.per_second, window.lag_p99) == (4, 2.0, 0.4)
    assert activity.take(14.0).started == 0
