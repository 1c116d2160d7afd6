"""SyncWebservers on the in-memory store: dry runs change nothing, applying marks servers managed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.sync import ExportWebservers, SyncWebservers
from healthmon.application.use_cases.webservers import RegisterWebserver, UpdateWebserver
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import WebserverChanges
from tests.factories import settings, succeeded
from tests.fakes import EPOCH, FakeClock


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def sync(store: InMemoryStore) -> SyncWebservers:
    return SyncWebservers(InMemoryUnitOfWork(store), FakeClock())


def test_a_dry_run_plans_and_changes_nothing(store: InMemoryStore, sync: SyncWebservers) -> None:
    result = sync.execute([settings(1, key="a")])

    assert (len(result.plan.create), result.applied) == (1, False)
    assert store.webservers == {}


def test_applying_creates_managed_servers_and_then_has_nothing_to_do(
    store: InMemoryStore, sync: SyncWebservers
) -> None:
    entries = [settings(1, key="a"), settings(2)]

    first = sync.execute(entries, dry_run=False)
    second = sync.execute(entries, dry_run=False)

    assert (len(first.plan.create), first.applied) == (2, True)
    assert (second.plan.empty, second.plan.unchanged) == (True, 2)
    assert [(webserver.settings.key, webserver.managed) for webserver in store.webservers.values()] == [
        ("a", True),
        (None, True),
    ]
    assert ExportWebservers(InMemoryUnitOfWork(store)).execute() == entries


def test_a_new_url_resets_a_healthy_server_and_records_the_change(
    store: InMemoryStore, sync: SyncWebservers
) -> None:
    (created,) = sync.execute([settings(1, key="a")], dry_run=False).plan.create
    webserver_id = next(iter(store.webservers))
    RecordProbeResults(InMemoryUnitOfWork(store)).execute(
        [succeeded(webserver_id, EPOCH + timedelta(seconds=n)) for n in range(5)]
    )
    assert store.webservers[webserver_id].state is HealthState.HEALTHY

    sync.execute([settings(1, key="a", url="http://moved.test/")], dry_run=False)

    moved = store.webservers[webserver_id]
    assert (moved.settings.url, moved.state, moved.managed) == (
        "http://moved.test/",
        HealthState.UNKNOWN,
        True,
    )
    assert [(event.change.from_state, event.change.to_state) for event in store.events if event.change] == [
        (HealthState.UNKNOWN, HealthState.HEALTHY),
        (HealthState.HEALTHY, HealthState.UNKNOWN),
    ]
    assert created.key == "a"


def test_a_server_changed_by_hand_is_no_longer_managed(store: InMemoryStore, sync: SyncWebservers) -> None:
    sync.execute([settings(1)], dry_run=False)
    webserver_id = next(iter(store.webservers))

    UpdateWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(
        webserver_id, WebserverChanges(interval_seconds=5)
    )

    assert store.webservers[webserver_id].managed is False
    assert sync.execute([], prune=True, dry_run=False).plan.delete == ()


def test_a_server_registered_by_hand_is_never_pruned(store: InMemoryStore, sync: SyncWebservers) -> None:
    by_hand = RegisterWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(settings(9))

    result = sync.execute([], prune=True, dry_run=False)

    assert result.plan.unmanaged == (by_hand,)
    assert list(store.webservers) == [by_hand.id]
