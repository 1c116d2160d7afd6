"""The events feed: oldest first, after a position, optionally one webserver's, never test events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.events import FEED_START, ListEvents
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import RegisterWebserver, RemoveWebserver
from healthmon.domain.errors import InvalidField
from healthmon.domain.events import EventType
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import Webserver
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH, FakeClock


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def feed(store: InMemoryStore) -> ListEvents:
    return ListEvents(InMemoryUnitOfWork(store))


def register(store: InMemoryStore, n: int) -> Webserver:
    flips_at_once = settings(n, healthy_threshold=1, unhealthy_threshold=1)
    return RegisterWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(flips_at_once)


def flip(store: InMemoryStore, webserver: Webserver, second: int, *, ok: bool) -> None:
    """One probe that changes the webserver's health (thresholds of 1)."""
    at = EPOCH + timedelta(seconds=second)
    result = succeeded(webserver.id, at) if ok else failed(webserver.id, at)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([result])


def test_an_empty_feed_gives_the_start_position(feed: ListEvents) -> None:
    page = feed.execute()
    assert page.items == []
    assert page.position == FEED_START


def test_the_feed_lists_health_changes_oldest_first(store: InMemoryStore, feed: ListEvents) -> None:
    one, two = register(store, 1), register(store, 2)
    flip(store, one, 1, ok=True)
    flip(store, two, 2, ok=True)
    flip(store, one, 3, ok=False)
    page = feed.execute()
    changes = [(e.webserver_id, e.change.to_state) for e in page.items if e.change is not None]
    assert changes == [
        (one.id, HealthState.HEALTHY),
        (two.id, HealthState.HEALTHY),
        (one.id, HealthState.UNHEALTHY),
    ]
    assert page.position == page.items[-1].sequence


def test_reading_on_from_the_position_never_misses_nor_repeats(
    store: InMemoryStore, feed: ListEvents
) -> None:
    server = register(store, 1)
    seen = []
    position = None
    for second in range(7):
        flip(store, server, second, ok=second % 2 == 0)
        for _ in range(2):  # polling twice between writes gives nothing new the second time
            page = feed.execute(after=position, limit=1)
            seen.extend(page.items)
            position = page.position
    assert [event.sequence for event in seen] == sorted({event.sequence for event in seen})
    assert len(seen) == 7


def test_an_empty_page_keeps_the_position_passed_in(store: InMemoryStore, feed: ListEvents) -> None:
    flip(store, register(store, 1), 1, ok=True)
    last = feed.execute().position
    assert feed.execute(after=last) == feed.execute(after=last)
    assert feed.execute(after=last).position == last


def test_the_feed_filters_one_webserver_and_keeps_it_after_removal(
    store: InMemoryStore, feed: ListEvents
) -> None:
    one, two = register(store, 1), register(store, 2)
    flip(store, one, 1, ok=True)
    flip(store, two, 2, ok=True)
    RemoveWebserver(InMemoryUnitOfWork(store)).execute(one.id)
    page = feed.execute(webserver_id=one.id)
    assert [event.webserver_id for event in page.items] == [one.id]
    assert len(feed.execute().items) == 2


def test_test_events_are_not_in_the_feed(store: InMemoryStore, feed: ListEvents) -> None:
    with InMemoryUnitOfWork(store) as uow:
        uow.events.add(EventType.TEST, EPOCH, None)
        uow.commit()
    assert feed.execute().items == []


@pytest.mark.parametrize("limit", [0, 1001])
def test_the_feed_refuses_a_page_size_out_of_range(feed: ListEvents, limit: int) -> None:
    with pytest.raises(InvalidField) as raised:
        feed.execute(limit=limit)
    assert raised.value.field == "limit"
