"""The rollup job on the clock, and the watermark retention reads from the rollup store."""

from __future__ import annotations

from datetime import timedelta

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.jobs.rollup_jobs import RollUpSettled, StoredRollups
from healthmon.application.use_cases.rollups import RollUpHistory
from healthmon.domain.ids import WebserverId
from healthmon.domain.rollups import HOUR, Span
from tests.factories import settings, succeeded
from tests.fakes import EPOCH, FakeClock

NOW = EPOCH + timedelta(days=3)


def with_a_webserver() -> InMemoryUnitOfWork:
    uow = InMemoryUnitOfWork(InMemoryStore())
    with uow:
        uow.webservers.add(settings(1), NOW)
        uow.commit()
    return uow


def stored_probe(uow: InMemoryUnitOfWork, hours_ago: int) -> None:
    with uow:
        started = NOW - HOUR * hours_ago
        uow.probe_results.add_many([succeeded(WebserverId(1), started)])
        uow.rollups.mark_hours([started.replace(minute=0, second=0, microsecond=0)])
        uow.commit()


def test_with_no_hour_marked_every_stored_probe_is_rolled_up_until_now() -> None:
    uow = InMemoryUnitOfWork(InMemoryStore())
    assert StoredRollups(uow, FakeClock(NOW)).rolled_up_until() == NOW


def test_the_watermark_is_the_earliest_hour_still_marked() -> None:
    uow = with_a_webserver()
    stored_probe(uow, hours_ago=5)
    stored_probe(uow, hours_ago=2)
    assert StoredRollups(uow, FakeClock(NOW)).rolled_up_until() == NOW - HOUR * 5


def test_the_job_rolls_up_settled_hours_on_the_clock_so_the_watermark_moves_to_now() -> None:
    uow = with_a_webserver()
    stored_probe(uow, hours_ago=5)
    clock = FakeClock(NOW)
    RollUpSettled(RollUpHistory(uow), clock).execute()
    assert StoredRollups(uow, clock).rolled_up_until() == NOW
    with uow:
        [(hour, rollup)] = uow.rollups.hourly(None, Span(EPOCH, NOW))[WebserverId(1)]
    assert (hour, rollup.probes, rollup.successes) == (NOW - HOUR * 5, 1, 1)
