"""Read plans: the pieces tile the window, never overlap, and use rollups only where they are complete."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from healthmon.domain.rollups import (
    DAY,
    HOUR,
    WEEK,
    Coverage,
    Granularity,
    Span,
    ceil_to,
    coverage_of,
    floor_to,
    plan_reads,
)
from tests.fakes import EPOCH

MINUTE = timedelta(minutes=1)
moments = st.integers(0, 5 * 24 * 60).map(lambda minutes: EPOCH + minutes * MINUTE)
limits = st.one_of(st.none(), st.integers(0, 30 * 24).map(lambda hours: EPOCH + hours * HOUR))
days = st.one_of(st.none(), st.integers(0, 30).map(lambda n: EPOCH + n * DAY))


def test_floor_and_ceil_align_to_utc_hours_and_days() -> None:
    moment = EPOCH + 26 * HOUR + 5 * MINUTE
    assert floor_to(moment, HOUR) == EPOCH + 26 * HOUR
    assert ceil_to(moment, HOUR) == EPOCH + 27 * HOUR
    assert floor_to(moment, DAY) == EPOCH + DAY
    assert ceil_to(EPOCH + DAY, DAY) == EPOCH + DAY


def test_a_year_is_weeks_days_and_hours_of_rollups_and_raw_edges() -> None:
    # From Thursday 2026-01-01 00:30 to Friday 2027-01-01 00:30.
    window = Span(EPOCH + 30 * MINUTE, EPOCH + 365 * DAY + 30 * MINUTE)
    plan = plan_reads(window, Coverage(), Granularity.NONE)
    first_monday, last_monday = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 12, 28, tzinfo=UTC)
    assert plan.weekly == (Span(first_monday, last_monday),)
    assert plan.daily == (Span(EPOCH + DAY, first_monday), Span(last_monday, EPOCH + 365 * DAY))
    assert plan.hourly == (Span(EPOCH + HOUR, EPOCH + DAY),)
    assert plan.raw == (Span(window.start, EPOCH + HOUR), Span(EPOCH + 365 * DAY, window.end))
    assert len(plan_reads(window, Coverage(), Granularity.DAY).weekly) == 0


def test_weeks_start_on_mondays() -> None:
    assert floor_to(EPOCH, WEEK) == datetime(2025, 12, 29, tzinfo=UTC)
    assert floor_to(EPOCH, WEEK).weekday() == 0


def test_coverage_of_marks_completes_a_day_and_a_week_only_without_marks_inside() -> None:
    marked_hour = EPOCH + 2 * DAY + 7 * HOUR  # Saturday 07:00
    assert coverage_of(None, None, None) == Coverage()
    assert coverage_of(marked_hour, None, None) == Coverage(
        marked_hour, EPOCH + 2 * DAY, datetime(2025, 12, 29, tzinfo=UTC)
    )
    assert coverage_of(None, None, datetime(2026, 1, 12, tzinfo=UTC)).weekly_until == datetime(
        2026, 1, 12, tzinfo=UTC
    )


@given(
    start=moments,
    # Short windows, and ones long enough to hold whole weeks.
    length=st.one_of(st.integers(1, 3 * 24 * 60), st.integers(8 * 24 * 60, 30 * 24 * 60)),
    hourly=limits,
    daily=days,
    weekly=days,
    granularity=st.sampled_from(Granularity),
)
def test_the_pieces_tile_the_window_within_coverage(
    *,
    start: datetime,
    length: int,
    hourly: datetime | None,
    daily: datetime | None,
    weekly: datetime | None,
    granularity: Granularity,
) -> None:
    window = Span(start, start + length * MINUTE)
    coverage = Coverage(hourly_until=hourly, daily_until=daily, weekly_until=weekly)
    plan = plan_reads(window, coverage, granularity)
    spans = sorted([*plan.raw, *plan.hourly, *plan.daily, *plan.weekly], key=lambda span: span.start)
    assert spans[0].start == window.start
    assert spans[-1].end == window.end
    assert all(before.end == after.start for before, after in itertools.pairwise(spans))
    for span in plan.hourly + plan.daily + plan.weekly:
        assert floor_to(span.start, HOUR) == span.start
        assert hourly is None or span.end <= hourly
    for span in plan.daily + plan.weekly:
        assert floor_to(span.start, DAY) == span.start
        assert floor_to(span.end, DAY) == span.end
        assert daily is None or span.end <= daily
    for span in plan.weekly:
        assert floor_to(span.start, WEEK) == span.start
        assert floor_to(span.end, WEEK) == span.end
        assert weekly is None or span.end <= weekly
    if granularity is not Granularity.NONE:
        assert plan.weekly == ()
    if granularity is Granularity.HOUR:
        assert plan.daily == ()
