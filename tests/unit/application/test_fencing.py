"""Fencing tokens: only results taken under a server's current lease epoch are recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import WorkerInfo
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import RegisterWebserver
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import Webserver
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH, FakeClock

FRESH = timedelta(hours=1)
# Every heartbeat counts as expired: a claim takes over whatever it finds.
EXPIRED = timedelta(0)


def at(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def registered(store: InMemoryStore, n: int = 1) -> Webserver:
    return RegisterWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(settings(n))


def claimed_by(store: InMemoryStore, worker_id: str, *, ttl: timedelta = FRESH, limit: int = 100) -> int:
    """Beat and claim up to limit servers (lowest ids first); the lowest epoch the worker then holds."""
    with InMemoryUnitOfWork(store) as uow:
        uow.workers.beat(WorkerInfo(id=worker_id, host="h", pid=1, started_at=EPOCH))
        uow.workers.claim(worker_id, ttl=ttl, limit=limit)
        held = uow.workers.held(worker_id)
        uow.commit()
    return min(held.values())


def record(store: InMemoryStore) -> RecordProbeResults:
    return RecordProbeResults(InMemoryUnitOfWork(store))


def test_results_of_the_current_epoch_are_recorded_and_advance_health(store: InMemoryStore) -> None:
    webserver = registered(store)
    epoch = claimed_by(store, "a")
    results = [failed(webserver.id, EPOCH + at(n)) for n in range(3)]
    outcome = record(store).execute(results, epochs=[epoch] * 3)
    assert (outcome.stored, outcome.dropped, outcome.fenced) == (3, 0, 0)
    assert store.webservers[webserver.id].state is HealthState.UNHEALTHY


def test_results_of_an_epoch_that_moved_on_are_dropped_and_counted(store: InMemoryStore) -> None:
    webserver = registered(store)
    old = claimed_by(store, "a")
    new = claimed_by(store, "b", ttl=EXPIRED)
    assert new == old + 1
    # b's result is recorded first; a's later ones (taken during a partition) must not land on it.
    record(store).execute([succeeded(webserver.id, EPOCH + at(1))], epochs=[new])
    late = [failed(webserver.id, EPOCH + at(n)) for n in range(2, 6)]
    outcome = record(store).execute(late, epochs=[old] * 4)
    assert (outcome.stored, outcome.dropped, outcome.fenced) == (0, 4, 4)
    assert [probe.result.success for probe in store.histories[webserver.id]] == [True]
    after = store.webservers[webserver.id]
    assert (after.health.consecutive_successes, after.health.consecutive_failures) == (1, 0)
    assert after.last_checked_at == EPOCH + at(1)


def test_a_batch_is_fenced_result_by_result_in_probe_start_order(store: InMemoryStore) -> None:
    first, second = registered(store, 1), registered(store, 2)
    old = claimed_by(store, "a")
    # The first server changes hands; the second stays with "a".
    new = claimed_by(store, "b", ttl=EXPIRED, limit=1)
    with InMemoryUnitOfWork(store) as uow:
        assert uow.workers.epochs([first.id, second.id]) == {first.id: new, second.id: old}
    batch = [
        succeeded(second.id, EPOCH + at(3)),
        succeeded(first.id, EPOCH + at(2)),
        succeeded(first.id, EPOCH + at(1)),
    ]
    outcome = record(store).execute(batch, epochs=[old, old, new])
    assert (outcome.stored, outcome.fenced) == (2, 1)
    assert [probe.result.started_at for probe in store.histories[first.id]] == [EPOCH + at(1)]
    assert [probe.result.started_at for probe in store.histories[second.id]] == [EPOCH + at(3)]


def test_without_epochs_nothing_is_fenced(store: InMemoryStore) -> None:
    webserver = registered(store)
    claimed_by(store, "a")
    claimed_by(store, "b", ttl=EXPIRED)
    outcome = record(store).execute([succeeded(webserver.id, EPOCH + at(1))])
    assert (outcome.stored, outcome.fenced) == (1, 0)


def test_one_epoch_per_result_is_required(store: InMemoryStore) -> None:
    webserver = registered(store)
    with pytest.raises(ValueError, match="one epoch per result"):
        record(store).execute([succeeded(webserver.id, EPOCH)], epochs=[])
