"""GET /workers on the in-memory store, whose heartbeats are dated by the test's fake clock."""

from __future__ import annotations

import pytest
from dependency_injector import providers

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import WorkerInfo
from healthmon.container import Container
from tests.fakes import EPOCH, FakeClock
from tests.integration.http.conftest import Client, ClientFactory, assert_problem, unavailable

LEASE_SECONDS = 6.0


@pytest.fixture
def store(clock: FakeClock) -> InMemoryStore:
    """The test's storage, dating heartbeats by the fake clock."""
    return InMemoryStore(clock)


def beat(store: InMemoryStore, worker_id: str, **stats: float) -> None:
    with InMemoryUnitOfWork(store) as uow:
        uow.workers.beat(WorkerInfo(id=worker_id, host="host-a", pid=4242, started_at=EPOCH, **stats))  # type: ignore[arg-type]
        uow.commit()


def listed(client: Client) -> list[str]:
    response = client.get("/workers")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_lists_each_live_worker_with_what_it_reported(
    client: Client, store: InMemoryStore, clock: FakeClock
) -> None:
    clock.advance(1.5)
    beat(store, "a", servers=67, probes_per_second=33.5, lag_p99_ms=4.25)
    response = client.get("/workers")
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "id": "a",
                "host": "host-a",
                "pid": 4242,
                "started_at": "2026-01-01T00:00:00Z",
                "servers": 67,
                "probes_per_second": 33.5,
                "lag_p99_ms": 4.25,
                "heartbeat_at": "2026-01-01T00:00:01.500000Z",
            }
        ]
    }


def test_a_dead_worker_leaves_the_list_once_its_lease_expired(
    client: Client, store: InMemoryStore, clock: FakeClock
) -> None:
    beat(store, "dead")
    clock.advance(LEASE_SECONDS - 1)
    beat(store, "alive")
    assert listed(client) == ["alive", "dead"]  # oldest first; equal starts in id order
    clock.advance(1)
    assert listed(client) == ["alive"]


def test_a_stopped_worker_leaves_the_list_at_once(client: Client, store: InMemoryStore) -> None:
    beat(store, "a")
    beat(store, "b")
    with InMemoryUnitOfWork(store) as uow:
        uow.workers.leave("a")
        uow.commit()
    assert listed(client) == ["b"]


def test_an_unreachable_database_is_a_503_problem(client: Client, container: Container) -> None:
    with container.uow.override(providers.Factory(unavailable)):
        assert_problem(client.get("/workers"), 503, "storage-unavailable")


def test_the_lease_setting_decides_who_is_live(
    make_client: ClientFactory, store: InMemoryStore, clock: FakeClock
) -> None:
    beat(store, "a")
    clock.advance(2)
    assert listed(make_client(lease_seconds=3.0)) == ["a"]
    clock.advance(1)
    assert listed(make_client(lease_seconds=3.0)) == []
