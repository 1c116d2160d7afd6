"""Read plans: the pieces tile the window, never overlap, and use rollups only where they are complete."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from healthmon.domain.rollups import DAY, HOUR, Coverage, Granularity, Span, ceil_to, floor_to, plan_reads
from tests.fakes import EPOCH

MINUTE = timedelta(minutes=1)
moments = st.integers(0, 10 * 24 * 60).map(lambda minutes: EPOCH + minutes * MINUTE)
limits = st.one_of(st.none(), st.integers(0, 10 * 24).map(lambda hours: EPOCH + hours * HOUR))


def test_floor_and_ceil_align_to_utc_hours_and_days() -> None:
    moment = EPOCH + 26 * HOUR + 5 * MINUTE
    assert floor_to(moment, HOUR) == EPOCH + 26 * HOUR
    assert ceil_to(moment, HOUR) == EPOCH + 27 * HOUR
    assert floor_to(moment, DAY) == EPOCH + DAY
    assert ceil_to(EPOCH + DAY, DAY) == EPOCH + DAY


def test_a_year_is_days_of_daily_rollups_and_raw_edges() -> None:
    window = Span(EPOCH + 30 * MINUTE, EPOCH + 365 * DAY + 30 * MINUTE)
    plan = plan_reads(window, Coverage(hourly_until=None, daily_until=None), Granularity.NONE)
    assert plan.daily == (Span(EPOCH + DAY, EPOCH + 365 * DAY),)
    assert plan.hourly == (Span(EPOCH + HOUR, EPOCH + DAY),)
    assert plan.raw == (Span(window.start, EPOCH + HOUR), Span(EPOCH + 365 * DAY, window.end))


@given(
    start=moments,
    length=st.integers(1, 5 * 24 * 60),
    hourly=limits,
    daily=limits,
    granularity=st.sampled_from(Granularity),
)
def test_the_pieces_tile_the_window_within_coverage(
    start: datetime, length: int, hourly: datetime | None, daily: datetime | None, granularity: Granularity
) -> None:
    window = Span(start, start + length * MINUTE)
    coverage = Coverage(hourly_until=hourly, daily_until=daily)
    plan = plan_reads(window, coverage, granularity)
    spans = sorted([*plan.raw, *plan.hourly, *plan.daily], key=lambda span: span.start)
    assert spans[0].start == window.start
    assert spans[-1].end == window.end
    assert all(before.end == after.start for before, after in itertools.pairwise(spans))
    for span in plan.hourly + plan.daily:
        assert floor_to(span.start, HOUR) == span.start
        assert hourly is None or span.end <= hourly
    for span in plan.daily:
        assert floor_to(span.start, DAY) == span.start
        assert floor_to(span.end, DAY) == span.end
        assert daily is None or span.end <= daily
    if granularity is Granularity.HOUR:
        assert plan.daily == ()
