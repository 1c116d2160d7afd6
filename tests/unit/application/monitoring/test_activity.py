"""The activity windows of the heartbeat report and the summary line."""

from __future__ import annotations

import pytest

from healthmon.application.monitoring.activity import ProbeActivity
from healthmon.domain.latency_sketch import RELATIVE_ACCURACY


def test_a_window_counts_the_starts_since_it_was_last_taken() -> None:
    activity = ProbeActivity(since=10.0)
    for lag in (0.1, 0.2, 0.3, 0.4):
        activity.started(lag)
    window = activity.take(12.0)
    assert (window.started, window.per_second) == (4, 2.0)
    assert window.lag_p99 == pytest.approx(0.4, rel=RELATIVE_ACCURACY)
    empty = activity.take(14.0)
    assert (empty.started, empty.lag_p99) == (0, 0.0)


def test_the_lag_p99_is_the_nearest_rank_within_the_sketch_accuracy() -> None:
    activity = ProbeActivity(since=0.0)
    for n in range(1, 10_001):
        activity.started(n / 1000)  # 1 ms to 10 s
    window = activity.take(10.0)
    assert window.lag_p99 == pytest.approx(9.9, rel=RELATIVE_ACCURACY)
    assert window.per_second == 1000.0
