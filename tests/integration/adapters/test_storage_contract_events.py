"""The event storage contract, on every UnitOfWork adapter: the feed, its order and its filters."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.domain.events import EVENT_ID_PREFIX, EventType
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ErrorKind, ProbeResult
from tests.factories import failed
from tests.fakes import EPOCH
from tests.integration.adapters.alert_steps import add_event, add_webserver, health_change
from tests.integration.conftest import UowFactory
from tests.waiting import eventually_sync


def test_an_added_event_reads_back_equal_with_its_probe(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    probe = ProbeResult.failure(
        webserver.id,
        started_at=EPOCH,
        latency_ms=1.5,
        kind=ErrorKind.TIMEOUT,
        message="No response within 60 s",
    )
    refused = add_event(uow_factory, webserver, to=HealthState.UNHEALTHY, probe=probe)
    answered = add_event(
        uow_factory, webserver, to=HealthState.UNHEALTHY, probe=failed(webserver.id, EPOCH, status_code=503)
    )
    with uow_factory() as uow:
        feed = uow.events.feed(after=None, limit=10)
    assert feed == [refused, answered]
    assert refused.id.startswith(EVENT_ID_PREFIX)
    assert refused.id != answered.id
    assert refused.sequence < answered.sequence
    assert refused.change is not None
    assert refused.change.probe == probe


def test_an_event_without_probe_reads_back_equal(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    with uow_factory() as uow:
        change = dataclasses.replace(health_change(webserver, to=HealthState.UNKNOWN), probe=None)
        reset = uow.events.add(EventType.HEALTH_CHANGED, change.occurred_at, change)
        uow.commit()
    with uow_factory() as uow:
        assert uow.events.feed(after=None, limit=10) == [reset]


def test_the_feed_is_oldest_first_and_pages_with_after(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    events = [add_event(uow_factory, webserver, at=EPOCH + timedelta(seconds=n)) for n in range(5)]
    with uow_factory() as uow:
        first = uow.events.feed(after=None, limit=2)
        rest = uow.events.feed(after=first[-1].sequence, limit=10)
        empty = uow.events.feed(after=rest[-1].sequence, limit=10)
    assert first + rest == events
    assert empty == []


def test_the_feed_filters_on_webserver_and_leaves_test_events_out(uow_factory: UowFactory) -> None:
    one, two = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    first = add_event(uow_factory, one)
    add_event(uow_factory, two)
    test = add_event(uow_factory, None)
    last = add_event(uow_factory, one, to=HealthState.UNHEALTHY)
    with uow_factory() as uow:
        assert uow.events.feed(after=None, webserver_id=one.id, limit=10) == [first, last]
        assert uow.events.feed(after=first.sequence, webserver_id=one.id, limit=10) == [last]
        assert test not in uow.events.feed(after=None, limit=10)
        assert len(uow.events.feed(after=None, limit=10)) == 3
        # The test event still took a place in the sequence.
        assert uow.events.latest_sequence() == last.sequence
    assert test.change is None
    assert test.type is EventType.TEST


def test_latest_sequence_is_zero_on_an_empty_store(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.events.latest_sequence() == 0
        assert uow.events.feed(after=None, limit=10) == []


def test_last_of_gives_each_webservers_newest_health_event(uow_factory: UowFactory) -> None:
    one, two, quiet = (add_webserver(uow_factory, n) for n in range(1, 4))
    add_event(uow_factory, one)
    newest_of_two = add_event(uow_factory, two)
    newest_of_one = add_event(uow_factory, one, to=HealthState.UNHEALTHY)
    add_event(uow_factory, None)
    with uow_factory() as uow:
        assert uow.events.last_of([one.id, two.id, quiet.id]) == {
            one.id: newest_of_one,
            two.id: newest_of_two,
        }
        assert uow.events.last_of([]) == {}


def test_an_uncommitted_event_is_not_stored(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    with uow_factory() as uow:
        change = health_change(webserver)
        uow.events.add(EventType.HEALTH_CHANGED, change.occurred_at, change)
    with uow_factory() as uow:
        assert uow.events.feed(after=None, limit=10) == []


def test_removing_a_webserver_keeps_its_events(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    event = add_event(uow_factory, webserver)
    with uow_factory() as uow:
        assert uow.webservers.remove(webserver.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.events.feed(after=None, webserver_id=webserver.id, limit=10) == [event]
        assert uow.events.last_of([webserver.id]) == {webserver.id: event}


@pytest.mark.postgres
def test_on_postgres_an_event_waits_for_an_earlier_uncommitted_one(
    postgres_session_factory: sessionmaker[Session],
) -> None:
    # Without the ordering lock, the second transaction would draw a higher sequence and commit
    # first, and a reader who saw it would skip the first one for ever.
    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(postgres_session_factory)

    webserver = add_webserver(uow_factory)
    later: list[int] = []

    def add_later() -> None:
        later.append(add_event(uow_factory, webserver).sequence)

    def advisory_lock_waits() -> bool:
        with postgres_session_factory() as session:
            waiting = (
                select(func.count())
                .select_from(text("pg_locks"))
                .where(text("locktype = 'advisory' AND NOT granted"))
            )
            return bool(session.execute(waiting).scalar_one())

    with uow_factory() as uow:
        change = health_change(webserver)
        earlier = uow.events.add(EventType.HEALTH_CHANGED, change.occurred_at, change)
        thread = threading.Thread(target=add_later, daemon=True)
        thread.start()
        eventually_sync(advisory_lock_waits, what="the second insert to wait for the first transaction")
        assert later == []
        uow.commit()
    thread.join(10)
    assert len(later) == 1
    assert later[0] > earlier.sequence
    with uow_factory() as uow:
        assert [event.sequence for event in uow.events.feed(after=None, limit=10)] == [
            earlier.sequence,
            later[0],
        ]


def test_a_batch_of_changes_is_stored_in_order_and_reads_back_equal(uow_factory: UowFactory) -> None:
    servers = [add_webserver(uow_factory, n) for n in range(1, 4)]
    changes = [
        health_change(server, at=EPOCH + timedelta(seconds=n))
        for n, server in enumerate(servers + servers[:1])
    ]
    changes[-1] = dataclasses.replace(
        changes[-1], to_state=HealthState.UNHEALTHY, from_state=HealthState.HEALTHY
    )
    with uow_factory() as uow:
        stored = uow.events.add_changes(changes)
        assert uow.events.add_changes([]) == []
        uow.commit()
    assert [event.change for event in stored] == changes
    assert [event.sequence for event in stored] == sorted(event.sequence for event in stored)
    assert len({event.id for event in stored}) == len(changes)
    with uow_factory() as uow:
        assert uow.events.feed(after=None, limit=10) == stored
