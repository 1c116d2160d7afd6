"""Windows and time in each health: the rules of stats_window and the clipping of health seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from healthmon.domain.errors import InvalidField
from healthmon.domain.health import HealthState
from healthmon.domain.rollups import HOUR, Granularity, Rollup, Span
from healthmon.domain.statistics import (
    MAX_WINDOW,
    HealthHistory,
    HealthSeconds,
    StateChange,
    stats_window,
    window_stats,
)
from tests.fakes import EPOCH


def test_the_window_defaults_to_the_day_before_now() -> None:
    assert stats_window(None, None, EPOCH) == Span(EPOCH - 24 * HOUR, EPOCH)
    assert stats_window(EPOCH - HOUR, None, EPOCH) == Span(EPOCH - HOUR, EPOCH)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (EPOCH, EPOCH, "from"),
        (EPOCH + HOUR, EPOCH, "from"),
        (EPOCH - MAX_WINDOW - timedelta(seconds=1), EPOCH, "from"),
        (datetime(2026, 1, 1), EPOCH, "from"),
        (None, datetime(2026, 1, 1), "to"),
    ],
)
def test_a_window_that_breaks_a_rule_names_the_field(
    start: datetime | None, end: datetime | None, field: str
) -> None:
    with pytest.raises(InvalidField) as raised:
        stats_window(start, end, EPOCH)
    assert raised.value.field == field


def test_a_window_of_exactly_400_days_is_allowed() -> None:
    assert stats_window(EPOCH - MAX_WINDOW, EPOCH, EPOCH).start == EPOCH - MAX_WINDOW


def seconds(
    changes: list[StateChange], window: Span, *, created_at: datetime, now: datetime
) -> HealthSeconds:
    history = HealthHistory.of(changes, window.start)
    return window_stats(
        window, Granularity.NONE, [(window.start, Rollup())], history, created_at=created_at, now=now
    ).health


def test_health_seconds_start_from_the_state_before_the_window() -> None:
    changes = [
        StateChange(EPOCH - HOUR, HealthState.UNHEALTHY),
        StateChange(EPOCH + HOUR, HealthState.HEALTHY),
    ]
    window = Span(EPOCH, EPOCH + 3 * HOUR)
    found = seconds(changes, window, created_at=EPOCH - 2 * HOUR, now=EPOCH + 10 * HOUR)
    assert found == HealthSeconds(healthy=7200.0, unhealthy=3600.0, unknown=0.0)


def test_health_seconds_count_neither_before_the_server_existed_nor_after_now() -> None:
    window = Span(EPOCH, EPOCH + 3 * HOUR)
    found = seconds([], window, created_at=EPOCH + HOUR, now=EPOCH + 2 * HOUR)
    assert found == HealthSeconds(unknown=3600.0)


def test_incidents_count_changes_into_unhealthy_inside_the_window() -> None:
    changes = [
        StateChange(EPOCH - HOUR, HealthState.UNHEALTHY),
        StateChange(EPOCH + HOUR, HealthState.HEALTHY),
        StateChange(EPOCH + 2 * HOUR, HealthState.UNHEALTHY),
    ]
    window = Span(EPOCH, EPOCH + 3 * HOUR)
    history = HealthHistory.of(changes, window.start)
    stats = window_stats(
        window, Granularity.HOUR, [], history, created_at=EPOCH - timedelta(days=1), now=EPOCH + 5 * HOUR
    )
    assert stats.incidents == 1
    assert [bucket.incidents for bucket in stats.buckets] == [0, 0, 1]
    assert [bucket.health.unhealthy for bucket in stats.buckets] == [3600.0, 0.0, 3600.0]
