"""The contracts of HistoryStorage and JobLeases: every adapter must pass these unchanged.

The PostgreSQL cases get a database of their own (partitions outlive the TRUNCATE the shared
one is emptied with).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from healthmon.adapters.memory import (
    InMemoryHistoryStorage,
    InMemoryJobLeases,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.history_storage import history_storage_for
from healthmon.adapters.sqlalchemy.job_leases import SqlAlchemyJobLeases
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.partitions import drop_partition, partition_days
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.ports import HistoryCursor, HistoryStorage, JobLeases
from healthmon.domain.probe import RecordedProbe
from tests.factories import succeeded
from tests.integration.adapters.storage_steps import add
from tests.integration.conftest import TEST_POOL_SIZE, UowFactory, scratch_database
from tests.waiting import eventually_sync

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FIRST_DAY = date(2026, 1, 1)
MIDNIGHT = datetime(2026, 1, 1, tzinfo=UTC)
# Every day these tests store probes on comes before this one (the migration's partitions start today).
LAST_TEST_DAY = date(2026, 6, 1)


@dataclass
class Backend:
    """One backend's adapters on one empty store."""

    name: str
    uow_factory: UowFactory
    storage: HistoryStorage
    leases: JobLeases
    engine: Engine | None = None


@pytest.fixture(scope="module")
def postgres_history_url(postgres_admin_url: URL) -> Iterator[URL]:
    """A migrated PostgreSQL database for this module alone."""
    with scratch_database(postgres_admin_url, "healthmon_history") as url:
        upgrade_database(url)
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A fresh, empty store on every backend."""
    if request.param == "memory":
        store = InMemoryStore()
        yield Backend(
            "memory",
            lambda: InMemoryUnitOfWork(store),
            InMemoryHistoryStorage(store),
            InMemoryJobLeases(store),
        )
        return
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("sqlite_engine")
        sessions = create_session_factory(engine)
        yield Backend(
            "sqlite",
            lambda: SqlAlchemyUnitOfWork(sessions),
            history_storage_for(sessions),
            SqlAlchemyJobLeases(sessions),
            engine,
        )
        return
    url: URL = request.getfixturevalue("postgres_history_url")
    engine = create_database_engine(url, pool_size=TEST_POOL_SIZE)
    with engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE webservers, requests, jobs RESTART IDENTITY CASCADE")
    sessions = create_session_factory(engine)
    # Partitions outlive TRUNCATE: drop those an earlier test made, so each test starts as migrated.
    with sessions() as session:
        for day in partition_days(session):
            if day < LAST_TEST_DAY:
                drop_partition(session, day)
        session.commit()
    try:
        yield Backend(
            "postgres",
            lambda: SqlAlchemyUnitOfWork(sessions),
            history_storage_for(sessions),
            SqlAlchemyJobLeases(sessions),
            engine,
        )
    finally:
        engine.dispose()


def _store_days(backend: Backend, days: int, per_day: int = 4) -> list[datetime]:
    """Probes of one webserver, per_day a day from MIDNIGHT, in day partitions where there are any."""
    backend.storage.prepare(FIRST_DAY, FIRST_DAY + DAY * days)
    webserver = add(backend.uow_factory)
    starts = [
        MIDNIGHT + DAY * d + timedelta(hours=24 / per_day) * n for d in range(days) for n in range(per_day)
    ]
    with backend.uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, start) for start in starts])
        uow.commit()
    return starts


def _all_starts(backend: Backend) -> list[datetime]:
    with backend.uow_factory() as uow:
        webservers = uow.webservers.list(limit=100)
        return sorted(
            probe.result.started_at
            for webserver in webservers
            for probe in uow.probe_results.history(webserver.id, limit=10_000)
        )


def test_usage_counts_rows_and_names_the_oldest_probe(backend: Backend) -> None:
    empty = backend.storage.usage()
    assert (empty.rows, empty.oldest_started_at) == (0, None)
    starts = _store_days(backend, days=3)
    # PostgreSQL counts from its statistics, which the writer publishes within a second or so.
    eventually_sync(lambda: backend.storage.usage().rows == len(starts), what="the rows counted")
    usage = backend.storage.usage()
    assert usage.oldest_started_at == starts[0]
    assert usage.rows_estimated is (backend.name == "postgres")
    assert (usage.bytes > 0) is (backend.name != "memory")


def test_prune_keeps_every_probe_from_the_cutoff_and_removes_every_day_ended_by_it(backend: Backend) -> None:
    starts = _store_days(backend, days=5)
    before = MIDNIGHT + DAY * 3 + HOUR * 7
    outcome = backend.storage.prune(before)
    kept = _all_starts(backend)
    assert [start for start in starts if start >= before] == [start for start in kept if start >= before]
    assert all(start >= MIDNIGHT + DAY * 3 for start in kept)
    assert outcome.partitions == (3 if backend.name == "postgres" else 0)
    assert backend.storage.prune(before).rows == 0


def test_prune_before_every_probe_removes_nothing(backend: Backend) -> None:
    starts = _store_days(backend, days=2)
    assert backend.storage.prune(MIDNIGHT).rows == 0
    assert _all_starts(backend) == starts


def test_prepare_creates_each_partition_once(backend: Backend) -> None:
    created = backend.storage.prepare(FIRST_DAY, FIRST_DAY + DAY * 2)
    assert created == (3 if backend.name == "postgres" else 0)
    assert backend.storage.prepare(FIRST_DAY, FIRST_DAY + DAY * 3) == (1 if backend.name == "postgres" else 0)


def test_history_pages_tile_across_day_partitions(backend: Backend) -> None:
    # Sparse days far apart and dense ones: the windows PostgreSQL walks meet every case.
    backend.storage.prepare(FIRST_DAY, FIRST_DAY + DAY * 40)
    webserver = add(backend.uow_factory)
    starts = [MIDNIGHT + DAY * d + HOUR * h for d in (0, 1, 2, 9, 10, 33) for h in range(0, 24, 5)]
    starts.append(MIDNIGHT + DAY * 60)  # past the last partition: the default one holds it
    with backend.uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, start) for start in starts])
        uow.commit()
    for size in (1, 3, 7, 100):
        seen: list[RecordedProbe] = []
        cursor: HistoryCursor | None = None
        with backend.uow_factory() as uow:
            while True:
                page = uow.probe_results.history(webserver.id, before=cursor, limit=size)
                seen.extend(page)
                if len(page) < size:
                    break
                cursor = HistoryCursor(page[-1].result.started_at, page[-1].id)
        assert [probe.result.started_at for probe in seen] == starts[::-1], size
    with backend.uow_factory() as uow:
        window = uow.probe_results.history(
            webserver.id, since=MIDNIGHT + DAY * 2, until=MIDNIGHT + DAY * 10 + HOUR, limit=100
        )
    assert [probe.result.started_at for probe in window] == [
        start for start in starts[::-1] if MIDNIGHT + DAY * 2 <= start < MIDNIGHT + DAY * 10 + HOUR
    ]


def test_probes_stored_before_their_day_had_a_partition_stay_in_its_history(backend: Backend) -> None:
    webserver = add(backend.uow_factory)
    starts = [MIDNIGHT + HOUR * h for h in range(3)]
    with backend.uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, start) for start in starts])
        uow.commit()
    backend.storage.prepare(FIRST_DAY, FIRST_DAY)
    assert _all_starts(backend) == starts
    backend.storage.prune(MIDNIGHT + DAY)
    assert _all_starts(backend) == []


def test_sqlite_gives_pruned_pages_back(request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue("sqlite_engine")
    sessions = create_session_factory(engine)
    backend = Backend(
        "sqlite",
        lambda: SqlAlchemyUnitOfWork(sessions),
        history_storage_for(sessions),
        SqlAlchemyJobLeases(sessions),
    )
    _store_days(backend, days=4, per_day=2000)
    backend.storage.prune(MIDNIGHT + DAY * 4)
    path = engine.url.database
    assert path is not None
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert backend.storage.usage().rows == 0


# --- job leases ----------------------------------------------------------------------------------

LONG = timedelta(hours=1)


def test_a_job_lease_is_held_by_one_holder_until_it_finishes(backend: Backend) -> None:
    leases = backend.leases
    assert leases.take("prune", "a", period=timedelta(0), lease=LONG)
    assert not leases.take("prune", "b", period=timedelta(0), lease=LONG)
    assert leases.take("other", "b", period=timedelta(0), lease=LONG)
    leases.finish("prune", "a")
    assert leases.take("prune", "b", period=timedelta(0), lease=LONG)


def test_a_finished_job_is_not_due_again_within_its_period(backend: Backend) -> None:
    leases = backend.leases
    assert leases.take("prune", "a", period=LONG, lease=LONG)
    leases.finish("prune", "a")
    assert not leases.take("prune", "a", period=LONG, lease=LONG)
    assert not leases.take("prune", "b", period=LONG, lease=LONG)


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew_or_finish_it(
    backend: Backend,
) -> None:
    leases = backend.leases
    assert leases.take("prune", "dead", period=LONG, lease=timedelta(0))
    assert leases.take("prune", "b", period=LONG, lease=LONG)
    assert not leases.renew("prune", "dead", LONG)
    leases.finish("prune", "dead")
    assert not leases.take("prune", "c", period=timedelta(0), lease=LONG)
    assert leases.renew("prune", "b", LONG)


def test_concurrent_takers_never_both_take_a_job(backend: Backend) -> None:
    # Four: SQLite's write gate lets one writer in and a few wait (more would be told it is busy).
    results: list[bool] = []
    start = threading.Barrier(4)

    def take(holder: str) -> None:
        start.wait()
        results.append(backend.leases.take("prune", holder, period=LONG, lease=LONG))

    threads = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 3 + [True]
