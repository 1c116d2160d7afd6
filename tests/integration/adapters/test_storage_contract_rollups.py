"""The rollup storage contract, on every UnitOfWork adapter: marks, rollups, raw aggregation, health changes,
and the rollup job on each store."""

from __future__ import annotations

from datetime import datetime, timedelta

from healthmon.application.ports import RollupPieces
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.rollups import SETTLE, RollUpHistory
from healthmon.domain.health import HealthState
from healthmon.domain.latency_sketch import LatencySketch
from healthmon.domain.rollups import DAY, HOUR, WEEK, Coverage, ReadPlan, Rollup, Span, floor_to
from healthmon.domain.statistics import StateChange
from healthmon.domain.webserver import WebserverId
from tests.factories import failed, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.alert_steps import add_event, add_webserver
from tests.integration.conftest import UowFactory

MINUTE = timedelta(minutes=1)
MONDAY = floor_to(EPOCH, WEEK)


def rollup(probes: int, successes: int, *latencies: float) -> Rollup:
    return Rollup(probes, successes, LatencySketch.of(latencies))


def as_tuples(pieces: RollupPieces) -> list[tuple[datetime, int, int, dict[int, int], float | None]]:
    return [
        (start, piece.probes, piece.successes, piece.latency.counts, piece.latency.max_ms)
        for start, piece in pieces
    ]


def test_marked_hours_are_listed_oldest_first_once_ended(uow_factory: UowFactory) -> None:
    hours = [EPOCH + n * HOUR for n in (3, 0, 1)]
    with uow_factory() as uow:
        uow.rollups.mark_hours(hours)
        uow.rollups.mark_hours([EPOCH])  # again: still one mark
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.dirty_hours(ended_by=EPOCH + 2 * HOUR, limit=10) == [EPOCH, EPOCH + HOUR]
        assert uow.rollups.dirty_hours(ended_by=EPOCH + 2 * HOUR - MINUTE, limit=10) == [EPOCH]
        assert uow.rollups.dirty_hours(ended_by=EPOCH + 9 * HOUR, limit=2) == [EPOCH, EPOCH + HOUR]
        assert uow.rollups.rolled_up_until() == EPOCH


def test_unmarking_an_hour_moves_rolled_up_until(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.rollups.rolled_up_until() is None
        uow.rollups.mark_hours([EPOCH, EPOCH + HOUR])
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.unmark_hour(EPOCH) is True
        assert uow.rollups.unmark_hour(EPOCH) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.rolled_up_until() == EPOCH + HOUR
        assert uow.rollups.unmark_hour(EPOCH + HOUR) is True
    with uow_factory() as uow:  # not committed: the mark is back
        assert uow.rollups.rolled_up_until() == EPOCH + HOUR


def test_coverage_of_days_stops_at_a_marked_day_or_the_day_of_a_marked_hour(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.rollups.coverage() == Coverage(None, None)
        uow.rollups.mark_day(EPOCH + 5 * DAY)
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.coverage() == Coverage(None, EPOCH + 5 * DAY, floor_to(EPOCH + 5 * DAY, WEEK))
        assert uow.rollups.dirty_days(ended_by=EPOCH + 6 * DAY, limit=5) == [EPOCH + 5 * DAY]
        assert uow.rollups.dirty_days(ended_by=EPOCH + 6 * DAY - MINUTE, limit=5) == []
        uow.rollups.mark_hours([EPOCH + 2 * DAY + 7 * HOUR])
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.coverage() == Coverage(
            EPOCH + 2 * DAY + 7 * HOUR, EPOCH + 2 * DAY, floor_to(EPOCH + 2 * DAY, WEEK)
        )
        assert uow.rollups.unmark_day(EPOCH + 5 * DAY) is True
        assert uow.rollups.unmark_day(EPOCH + 5 * DAY) is False


def test_saved_rollups_read_back_equal_with_their_sketches(uow_factory: UowFactory) -> None:
    first, second = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    with uow_factory() as uow:
        uow.rollups.save_hourly(EPOCH, {first.id: rollup(3, 2, 0.0, 12.5, 950.25), second.id: rollup(1, 0)})
        uow.rollups.save_hourly(EPOCH + HOUR, {first.id: rollup(1, 1, 7.0)})
        uow.rollups.save_daily(EPOCH, {first.id: rollup(4, 3, 0.0, 12.5, 950.25, 7.0)})
        uow.rollups.save_weekly(MONDAY, {second.id: rollup(2, 2, 1.0, 2.0)})
        uow.commit()
    with uow_factory() as uow:
        hourly = uow.rollups.hourly([first.id, second.id], Span(EPOCH, EPOCH + DAY))
        daily = uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY))
        counts_only = uow.rollups.hourly(None, Span(EPOCH, EPOCH + HOUR), latency=False)
        later = uow.rollups.hourly([first.id], Span(EPOCH + HOUR, EPOCH + DAY))
        weekly = uow.rollups.weekly(None, Span(MONDAY, MONDAY + WEEK))
    assert as_tuples(hourly[first.id]) == as_tuples(
        [(EPOCH, rollup(3, 2, 0.0, 12.5, 950.25)), (EPOCH + HOUR, rollup(1, 1, 7.0))]
    )
    assert as_tuples(hourly[second.id]) == [(EPOCH, 1, 0, {}, None)]
    assert as_tuples(daily[first.id]) == as_tuples([(EPOCH, rollup(4, 3, 0.0, 12.5, 950.25, 7.0))])
    assert as_tuples(counts_only[first.id]) == [(EPOCH, 3, 2, {}, None)]
    assert list(later) == [first.id]
    assert as_tuples(weekly[second.id]) == as_tuples([(MONDAY, rollup(2, 2, 1.0, 2.0))])
    assert [start for start, _ in later[first.id]] == [EPOCH + HOUR]


def test_saving_a_rollup_again_replaces_it(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    for value in (rollup(1, 1, 5.0), rollup(2, 1, 5.0, 9.0)):
        with uow_factory() as uow:
            uow.rollups.save_hourly(EPOCH, {webserver.id: value})
            uow.commit()
    with uow_factory() as uow:
        [(_, stored)] = uow.rollups.hourly([webserver.id], Span(EPOCH, EPOCH + HOUR))[webserver.id]
    assert (stored.probes, stored.latency.max_ms) == (2, 9.0)


def test_rollups_of_a_removed_webserver_are_gone_and_never_saved(uow_factory: UowFactory) -> None:
    kept, gone = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    with uow_factory() as uow:
        uow.rollups.save_daily(EPOCH, {kept.id: rollup(1, 1), gone.id: rollup(1, 1)})
        uow.commit()
    with uow_factory() as uow:
        uow.webservers.remove(gone.id)
        uow.commit()
    with uow_factory() as uow:
        uow.rollups.save_hourly(EPOCH, {kept.id: rollup(1, 1), gone.id: rollup(1, 1)})
        uow.commit()
    with uow_factory() as uow:
        assert list(uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY))) == [kept.id]
        assert list(uow.rollups.hourly(None, Span(EPOCH, EPOCH + DAY))) == [kept.id]


def test_pruning_deletes_hourly_rollups_before_a_time(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    with uow_factory() as uow:
        for n in range(3):
            uow.rollups.save_hourly(EPOCH + n * HOUR, {webserver.id: rollup(1, 1)})
        uow.rollups.save_daily(EPOCH, {webserver.id: rollup(3, 3)})
        uow.commit()
    with uow_factory() as uow:
        assert uow.rollups.prune_hourly(EPOCH + 2 * HOUR) == 2
        uow.commit()
    with uow_factory() as uow:
        hourly = uow.rollups.hourly(None, Span(EPOCH, EPOCH + DAY))
        assert [start for start, _ in hourly[webserver.id]] == [EPOCH + 2 * HOUR]
        assert list(uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY))) == [webserver.id]


def test_raw_probes_aggregate_per_hour_within_the_span(uow_factory: UowFactory) -> None:
    webserver, other = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    probes = [
        succeeded(webserver.id, EPOCH - MINUTE, 1.0),  # before the span
        succeeded(webserver.id, EPOCH, 10.0),
        failed(webserver.id, EPOCH + 30 * MINUTE),  # a 500 in 3 ms: a response
        failed(webserver.id, EPOCH + 59 * MINUTE, status_code=None),  # refused: no latency
        succeeded(webserver.id, EPOCH + 61 * MINUTE, 20.0),
        succeeded(webserver.id, EPOCH + 90 * MINUTE, 30.0),  # at the span's end: left out
        succeeded(other.id, EPOCH + 5 * MINUTE, 40.0),
    ]
    with uow_factory() as uow:
        uow.probe_results.add_many(probes)
        uow.commit()
    span = Span(EPOCH, EPOCH + 90 * MINUTE)
    with uow_factory() as uow:
        found = uow.rollups.raw([webserver.id, other.id], span)
        everyone = uow.rollups.raw(None, span)
        counts = uow.rollups.raw([webserver.id], span, latency=False)
    expected = [(EPOCH, rollup(3, 1, 10.0, 3.0)), (EPOCH + HOUR, rollup(1, 1, 20.0))]
    assert as_tuples(found[webserver.id]) == as_tuples(expected)
    assert as_tuples(found[other.id]) == as_tuples([(EPOCH, rollup(1, 1, 40.0))])
    assert {key: as_tuples(value) for key, value in everyone.items()} == {
        key: as_tuples(value) for key, value in found.items()
    }
    assert as_tuples(counts[webserver.id]) == [(EPOCH, 3, 1, {}, None), (EPOCH + HOUR, 1, 1, {}, None)]


def test_health_changes_give_the_last_one_before_and_those_inside(uow_factory: UowFactory) -> None:
    webserver, other, quiet = (add_webserver(uow_factory, n) for n in (1, 2, 3))
    for minutes, state in (
        (-30, HealthState.HEALTHY),
        (-20, HealthState.UNHEALTHY),
        (10, HealthState.HEALTHY),
        (70, HealthState.UNHEALTHY),
    ):
        add_event(uow_factory, webserver, to=state, at=EPOCH + minutes * MINUTE)
    add_event(uow_factory, other, to=HealthState.HEALTHY, at=EPOCH + 5 * MINUTE)
    add_event(uow_factory, quiet, to=HealthState.HEALTHY, at=EPOCH + 2 * HOUR)
    with uow_factory() as uow:
        changes = uow.events.health_changes([webserver.id, other.id, quiet.id], Span(EPOCH, EPOCH + HOUR))
    assert changes == {
        webserver.id: [
            StateChange(EPOCH - 20 * MINUTE, HealthState.UNHEALTHY),
            StateChange(EPOCH + 10 * MINUTE, HealthState.HEALTHY),
        ],
        other.id: [StateChange(EPOCH + 5 * MINUTE, HealthState.HEALTHY)],
    }


def test_the_job_rolls_up_settled_hours_and_then_their_days(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    record = RecordProbeResults(uow_factory())
    record.execute([succeeded(webserver.id, EPOCH + n * 20 * MINUTE, 10.0 + n) for n in range(6)])
    job = RollUpHistory(uow_factory())
    # At 02:01:59 the 01:00 hour has not settled yet.
    assert job.run(EPOCH + 2 * HOUR + SETTLE - timedelta(seconds=1)).hours == 1
    assert job.run(EPOCH + 2 * HOUR + SETTLE).hours == 1
    with uow_factory() as uow:
        hourly = uow.rollups.hourly(None, Span(EPOCH, EPOCH + DAY))[webserver.id]
        assert [(start, piece.probes) for start, piece in hourly] == [(EPOCH, 3), (EPOCH + HOUR, 3)]
        assert uow.rollups.rolled_up_until() is None
        assert uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY)) == {}
    outcome = job.run(EPOCH + DAY + SETTLE)
    assert (outcome.hours, outcome.days, outcome.weeks, outcome.more) == (0, 1, 0, False)
    with uow_factory() as uow:
        [(day, daily)] = uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY))[webserver.id]
        assert (day, daily.probes, daily.successes, daily.latency.max_ms) == (EPOCH, 6, 6, 15.0)
        # The week of Monday 2025-12-29 waits until it is over.
        assert uow.rollups.coverage() == Coverage(None, None, MONDAY)
    outcome = job.run(MONDAY + WEEK + SETTLE)
    assert (outcome.hours, outcome.days, outcome.weeks) == (0, 0, 1)
    with uow_factory() as uow:
        [(week, weekly)] = uow.rollups.weekly(None, Span(MONDAY, MONDAY + WEEK))[webserver.id]
        assert (week, weekly.probes, weekly.latency.max_ms) == (MONDAY, 6, 15.0)
        assert uow.rollups.coverage() == Coverage(None, None, None)


def test_a_late_probe_marks_its_hour_again_and_is_rolled_up(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    record = RecordProbeResults(uow_factory())
    record.execute([succeeded(webserver.id, EPOCH + 10 * MINUTE, 10.0)])
    job = RollUpHistory(uow_factory())
    job.run(EPOCH + DAY + SETTLE)
    # Written hours later, as a worker that buffered through a database outage does.
    record.execute([failed(webserver.id, EPOCH + 50 * MINUTE)])
    with uow_factory() as uow:
        assert uow.rollups.rolled_up_until() == EPOCH
    assert job.run(MONDAY + WEEK + SETTLE).days == 1
    with uow_factory() as uow:
        [(_, hourly)] = uow.rollups.hourly(None, Span(EPOCH, EPOCH + HOUR))[webserver.id]
        [(_, daily)] = uow.rollups.daily(None, Span(EPOCH, EPOCH + DAY))[webserver.id]
        [(_, weekly)] = uow.rollups.weekly(None, Span(MONDAY, MONDAY + WEEK))[webserver.id]
    assert (hourly.probes, hourly.successes, daily.probes, daily.successes) == (2, 1, 2, 1)
    assert (weekly.probes, weekly.successes) == (2, 1)


def test_a_run_does_at_most_its_share_and_says_more_is_left(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    RecordProbeResults(uow_factory()).execute(
        [succeeded(webserver.id, EPOCH + n * HOUR, 1.0) for n in range(3)]
    )
    job = RollUpHistory(uow_factory(), max_per_run=2)
    first = job.run(EPOCH + 2 * DAY)
    assert (first.hours, first.days, first.more) == (2, 0, True)
    second = job.run(EPOCH + 2 * DAY)
    assert (second.hours, second.days, second.more) == (1, 1, False)
    with uow_factory() as uow:
        [(_, daily)] = uow.rollups.daily([WebserverId(webserver.id)], Span(EPOCH, EPOCH + DAY))[webserver.id]
    assert daily.probes == 3


def test_totals_sum_the_counts_of_every_span_of_a_plan(uow_factory: UowFactory) -> None:
    webserver, other, quiet = (add_webserver(uow_factory, n) for n in (1, 2, 3))
    with uow_factory() as uow:
        uow.rollups.save_weekly(MONDAY, {webserver.id: rollup(10, 9)})
        uow.rollups.save_daily(MONDAY + WEEK, {webserver.id: rollup(5, 4), other.id: rollup(2, 0)})
        uow.rollups.save_hourly(MONDAY + WEEK + DAY, {webserver.id: rollup(3, 3)})
        uow.probe_results.add_many(
            [
                succeeded(webserver.id, MONDAY + WEEK + DAY + HOUR),
                failed(other.id, MONDAY + WEEK + DAY + HOUR),
            ]
        )
        uow.commit()
    plan = ReadPlan(
        raw=(Span(MONDAY + WEEK + DAY + HOUR, MONDAY + WEEK + DAY + 2 * HOUR),),
        hourly=(Span(MONDAY + WEEK + DAY, MONDAY + WEEK + DAY + HOUR),),
        daily=(Span(MONDAY + WEEK, MONDAY + WEEK + DAY),),
        weekly=(Span(MONDAY, MONDAY + WEEK),),
    )
    with uow_factory() as uow:
        totals = uow.rollups.totals([webserver.id, other.id, quiet.id], plan)
    assert totals == {webserver.id: (19, 17), other.id: (3, 0)}
