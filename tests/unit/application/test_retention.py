"""Retention: probes go once expired and rolled up, never before; partitions are made ahead."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from healthmon.adapters.memory import InMemoryHistoryStorage, InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import HistoryStorage, HistoryUsage, PruneOutcome
from healthmon.application.use_cases.retention import (
    GetStorageUsage,
    PrepareHistoryPartitions,
    PruneHistory,
    RetentionSettings,
)
from healthmon.domain.ids import WebserverId
from tests.factories import settings, succeeded
from tests.fakes import EPOCH, FakeClock, FakeRollups

DAY = timedelta(days=1)
NOW = EPOCH + DAY * 100


class RecordingStorage(HistoryStorage):
    """Remembers what it was asked to prepare."""

    def __init__(self) -> None:
        self.prepared: list[tuple[date, date]] = []

    def usage(self) -> HistoryUsage:
        return HistoryUsage(rows=0, bytes=0, oldest_started_at=None, rows_estimated=False)

    def prepare(self, first: date, through: date) -> int:
        self.prepared.append((first, through))
        return 1

    def prune(self, before: datetime) -> PruneOutcome:
        return PruneOutcome(rows=0)


@pytest.fixture
def store() -> InMemoryStore:
    """A store with one webserver probed once a day for the 100 days before NOW."""
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as uow:
        webserver = uow.webservers.add(settings(1), EPOCH)
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH + DAY * d) for d in range(100)])
        uow.commit()
    return store


def starts(store: InMemoryStore) -> list[datetime]:
    return [probe.result.started_at for probe in store.histories[WebserverId(1)]]


def prune(store: InMemoryStore, rollups: FakeRollups, days: int = 90) -> PruneHistory:
    return PruneHistory(
        InMemoryHistoryStorage(store), rollups, FakeClock(NOW), RetentionSettings(retention_days=days)
    )


def test_probes_older_than_the_retention_and_rolled_up_are_removed(store: InMemoryStore) -> None:
    outcome = prune(store, FakeRollups(until=NOW)).execute()
    assert outcome.before == NOW - DAY * 90
    assert outcome.probes.rows == 10
    assert starts(store)[0] == NOW - DAY * 90


def test_probes_the_rollups_have_not_covered_are_kept_even_when_expired(store: InMemoryStore) -> None:
    covered = EPOCH + DAY * 3
    prune(store, FakeRollups(until=covered)).execute()
    assert starts(store)[0] == covered


def test_without_a_rollup_watermark_nothing_is_removed(store: InMemoryStore) -> None:
    outcome = prune(store, FakeRollups(until=None)).execute()
    assert (outcome.before, outcome.probes.rows) == (None, 0)
    assert len(starts(store)) == 100


def test_hourly_rollups_are_pruned_past_their_own_retention(store: InMemoryStore) -> None:
    rollups = FakeRollups(until=None)
    PruneHistory(
        InMemoryHistoryStorage(store), rollups, FakeClock(NOW), RetentionSettings(rollup_retention_days=400)
    ).execute()
    assert rollups.hourly_pruned_before == [NOW - DAY * 400]


def test_partitions_are_prepared_from_today_to_a_week_ahead() -> None:
    storage = RecordingStorage()
    assert PrepareHistoryPartitions(storage, FakeClock(NOW)).execute() == 1
    assert storage.prepared == [(NOW.date(), NOW.date() + DAY * 7)]


def test_the_storage_report_carries_the_retention(store: InMemoryStore) -> None:
    report = GetStorageUsage(InMemoryHistoryStorage(store), RetentionSettings(retention_days=30)).execute()
    assert (report.usage.rows, report.usage.oldest_started_at, report.retention_days) == (100, EPOCH, 30)


def test_retention_must_be_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        RetentionSettings(retention_days=0)
