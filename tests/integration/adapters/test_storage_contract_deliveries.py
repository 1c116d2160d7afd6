"""The delivery storage contract, on every UnitOfWork adapter: the queue, its claims and its order."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.ports import ClaimedDelivery
from healthmon.domain.channels import Channel
from healthmon.domain.deliveries import AttemptOutcome, Delivery, DeliveryId, DeliveryStatus, RetrySchedule
from healthmon.domain.events import RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import Webserver
from tests.integration.adapters.alert_steps import (
    add_channel,
    add_event,
    add_webserver,
    due_now,
    queue,
    unknown_channel,
)
from tests.integration.conftest import UowFactory

CLAIM = timedelta(minutes=5)
SCHEDULE = RetrySchedule((60,))


def claim(
    uow_factory: UowFactory, worker: str = "worker-a", limit: int = 10, claim_for: timedelta = CLAIM
) -> list[ClaimedDelivery]:
    with uow_factory() as uow:
        claimed = uow.deliveries.claim(worker, claim_for=claim_for, limit=limit)
        uow.commit()
    return claimed


def finish(uow_factory: UowFactory, worker: str, delivery: Delivery) -> bool:
    with uow_factory() as uow:
        done = uow.deliveries.finish(worker, delivery)
        uow.commit()
    return done


def delivered(delivery: Delivery) -> Delivery:
    return delivery.after_attempt(
        AttemptOutcome(delivered=True, status_code=200), at=datetime.now(UTC), schedule=SCHEDULE, jitter=0
    )


def refused(delivery: Delivery, **outcome: object) -> Delivery:
    values: dict[str, object] = {"delivered": False, "status_code": 500, "error": "HTTP 500"}
    values.update(outcome)
    return delivery.after_attempt(
        AttemptOutcome(**values),  # type: ignore[arg-type]
        at=datetime.now(UTC),
        schedule=SCHEDULE,
        jitter=0,
    )


def events_of(claimed: list[ClaimedDelivery]) -> list[RecordedEvent]:
    return [item.event for item in claimed]


@pytest.fixture
def webserver(uow_factory: UowFactory) -> Webserver:
    return add_webserver(uow_factory)


@pytest.fixture
def channel(uow_factory: UowFactory) -> Channel:
    return add_channel(uow_factory)


def test_queued_deliveries_are_pending_and_read_back(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    due = due_now()
    queue(uow_factory, event, channel, due=due)
    with uow_factory() as uow:
        [delivery] = uow.deliveries.list(channel.id, limit=10)
        assert uow.deliveries.get(channel.id, delivery.id) == delivery
        assert uow.deliveries.get(channel.id, delivery.id, lock=True) == delivery
        assert uow.deliveries.get(unknown_channel(), delivery.id) is None
        assert uow.deliveries.get(channel.id, DeliveryId(424242)) is None
    assert delivery == Delivery(
        id=delivery.id,
        event_id=event.id,
        channel_id=channel.id,
        webserver_id=webserver.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
    )


def test_queueing_for_a_channel_that_is_gone_queues_nothing(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    with uow_factory() as uow:
        uow.deliveries.add_many(event, [channel.id, unknown_channel()], due_now())
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.deliveries.list(channel.id, limit=10)) == 1
        assert uow.deliveries.list(unknown_channel(), limit=10) == []


def test_claim_gives_due_deliveries_with_their_event_and_channel_oldest_first(
    uow_factory: UowFactory, channel: Channel
) -> None:
    servers = [add_webserver(uow_factory, n) for n in range(1, 4)]
    events = [add_event(uow_factory, server) for server in servers]
    for event in reversed(events):
        queue(uow_factory, event, channel)
    first = claim(uow_factory, limit=2)
    rest = claim(uow_factory, limit=10)
    assert events_of(first) == events[:2]
    assert events_of(rest) == events[2:]
    assert {item.channel for item in first + rest} == {channel}
    assert all(item.delivery.channel_id == channel.id for item in first + rest)


def test_claim_skips_claimed_and_not_yet_due_deliveries(uow_factory: UowFactory, channel: Channel) -> None:
    one, two = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    soon = add_event(uow_factory, one)
    later = add_event(uow_factory, two)
    queue(uow_factory, soon, channel)
    queue(uow_factory, later, channel, due=datetime.now(UTC) + timedelta(hours=1))
    assert events_of(claim(uow_factory, "worker-a")) == [soon]
    assert claim(uow_factory, "worker-b") == []


def test_an_expired_claim_can_be_taken_by_another_worker(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, channel)
    [taken] = claim(uow_factory, "worker-a", claim_for=timedelta(0))
    [again] = claim(uow_factory, "worker-b")
    assert again.delivery == taken.delivery
    # The first worker's claim is gone: its outcome is dropped, the new holder's is kept.
    assert finish(uow_factory, "worker-a", delivered(taken.delivery)) is False
    assert finish(uow_factory, "worker-b", refused(again.delivery)) is True
    with uow_factory() as uow:
        [stored] = uow.deliveries.list(channel.id, limit=10)
    assert stored.attempts == 1
    assert stored.last_status_code == 500


def test_a_later_event_of_the_same_server_and_channel_waits_for_the_earlier(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    other_server = add_webserver(uow_factory, 2)
    other_channel = add_channel(uow_factory)
    down = add_event(uow_factory, webserver, to=HealthState.UNHEALTHY)
    up = add_event(uow_factory, webserver)
    elsewhere = add_event(uow_factory, other_server)
    test = add_event(uow_factory, None)
    queue(uow_factory, down, channel, other_channel)
    queue(uow_factory, up, channel, other_channel)
    queue(uow_factory, elsewhere, channel)
    queue(uow_factory, test, channel)
    claimed = claim(uow_factory)
    assert [(item.event, item.channel.id) for item in claimed] == [
        (down, channel.id),
        (down, other_channel.id),
        (elsewhere, channel.id),
        (test, channel.id),
    ]
    # Even with the earlier one claimed (or waiting for a retry), the later one waits.
    assert claim(uow_factory, "worker-b") == []
    first = claimed[0].delivery
    assert finish(uow_factory, "worker-a", refused(first)) is True
    assert claim(uow_factory, "worker-b") == []
    with uow_factory() as uow:
        [retrying] = [d for d in uow.deliveries.list(channel.id, limit=10) if d.id == first.id]
        uow.deliveries.save(dataclasses.replace(retrying, status=DeliveryStatus.FAILED, next_attempt_at=None))
        uow.commit()
    [next_up] = claim(uow_factory, "worker-b")
    assert (next_up.event, next_up.channel.id) == (up, channel.id)


def test_finish_writes_only_for_the_claimer_and_drops_the_claim(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, channel)
    [taken] = claim(uow_factory, "worker-a")
    assert finish(uow_factory, "worker-b", delivered(taken.delivery)) is False
    with uow_factory() as uow:
        assert uow.deliveries.list(channel.id, limit=10) == [taken.delivery]
    done = delivered(taken.delivery)
    assert finish(uow_factory, "worker-a", done) is True
    assert finish(uow_factory, "worker-a", done) is False
    with uow_factory() as uow:
        assert uow.deliveries.list(channel.id, limit=10) == [done]
    assert claim(uow_factory, "worker-b") == []


def test_a_failed_attempt_is_claimed_again_only_once_due(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, channel)
    [taken] = claim(uow_factory)
    waiting = refused(taken.delivery)
    assert waiting.status is DeliveryStatus.PENDING
    assert finish(uow_factory, "worker-a", waiting) is True
    assert claim(uow_factory) == []
    with uow_factory() as uow:
        uow.deliveries.save(dataclasses.replace(waiting, next_attempt_at=due_now()))
        uow.commit()
    [again] = claim(uow_factory)
    assert again.delivery.attempts == 1


def test_a_retried_failed_delivery_is_pending_and_claimable(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, channel)
    [taken] = claim(uow_factory)
    gone = refused(taken.delivery, status_code=410, gone=True)
    assert gone.status is DeliveryStatus.FAILED
    assert finish(uow_factory, "worker-a", gone) is True
    with uow_factory() as uow:
        failed = uow.deliveries.get(channel.id, taken.delivery.id, lock=True)
        assert failed == gone
        uow.deliveries.save(failed.retried(due_now()))
        uow.commit()
    [again] = claim(uow_factory)
    assert again.delivery.status is DeliveryStatus.PENDING
    assert again.delivery.attempts == 0


def test_deliveries_to_a_disabled_channel_wait(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    queue(uow_factory, add_event(uow_factory, webserver), channel)
    with uow_factory() as uow:
        off = dataclasses.replace(channel, settings=dataclasses.replace(channel.settings, enabled=False))
        uow.channels.save(off)
        uow.commit()
    assert claim(uow_factory) == []
    with uow_factory() as uow:
        uow.channels.save(channel)
        uow.commit()
    assert len(claim(uow_factory)) == 1


def test_list_pages_in_id_order_and_filters_on_status(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    other_channel = add_channel(uow_factory)
    servers = [webserver, *(add_webserver(uow_factory, n) for n in range(2, 5))]
    for server in servers:
        queue(uow_factory, add_event(uow_factory, server), channel, other_channel)
    with uow_factory() as uow:
        everything = uow.deliveries.list(channel.id, limit=10)
    [taken, *_] = claim(uow_factory, limit=1)
    done = delivered(taken.delivery)
    assert finish(uow_factory, "worker-a", done) is True
    with uow_factory() as uow:
        first = uow.deliveries.list(channel.id, limit=2)
        rest = uow.deliveries.list(channel.id, after=first[-1].id, limit=10)
        assert uow.deliveries.list(channel.id, status=DeliveryStatus.DELIVERED, limit=10) == [done]
        pending = uow.deliveries.list(channel.id, status=DeliveryStatus.PENDING, limit=10)
        assert uow.deliveries.list(channel.id, status=DeliveryStatus.FAILED, limit=10) == []
    assert len(everything) == 4
    assert [d.id for d in first + rest] == [d.id for d in everything]
    assert pending == everything[1:]


def test_removing_a_webserver_keeps_its_deliveries_and_they_still_go_out(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, channel)
    with uow_factory() as uow:
        assert uow.webservers.remove(webserver.id)
        uow.commit()
    [taken] = claim(uow_factory)
    assert taken.event == event
    assert taken.delivery.webserver_id == webserver.id


def test_an_uncommitted_claim_is_not_kept(
    uow_factory: UowFactory, webserver: Webserver, channel: Channel
) -> None:
    queue(uow_factory, add_event(uow_factory, webserver), channel)
    with uow_factory() as uow:
        assert len(uow.deliveries.claim("worker-a", claim_for=CLAIM, limit=10)) == 1
    assert len(claim(uow_factory, "worker-b")) == 1


CLAIMERS = 4
DELIVERIES = 120


@pytest.mark.postgres
def test_on_postgres_concurrent_claimers_never_take_the_same_delivery(
    postgres_session_factory: sessionmaker[Session],
) -> None:
    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(postgres_session_factory)

    channel = add_channel(uow_factory)
    # One event per server, so the per-server order holds nobody back.
    servers = [add_webserver(uow_factory, n) for n in range(1, DELIVERIES + 1)]
    for server in servers:
        queue(uow_factory, add_event(uow_factory, server), channel)
    start = threading.Barrier(CLAIMERS)
    taken: dict[str, list[DeliveryId]] = {f"worker-{n}": [] for n in range(CLAIMERS)}
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            start.wait(30)
            while True:
                with uow_factory() as uow:
                    claimed = uow.deliveries.claim(worker, claim_for=CLAIM, limit=3)
                    uow.commit()
                if not claimed:
                    return
                taken[worker] += [item.delivery.id for item in claimed]
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    every = [delivery_id for ids in taken.values() for delivery_id in ids]
    assert len(every) == DELIVERIES
    assert len(set(every)) == DELIVERIES
    assert sum(1 for ids in taken.values() if ids) > 1, "the claimers did not overlap"


def test_a_batch_of_events_is_queued_each_for_its_channels_due_when_it_happened(
    uow_factory: UowFactory, channel: Channel
) -> None:
    other = add_channel(uow_factory)
    one, two = add_webserver(uow_factory, 1), add_webserver(uow_factory, 2)
    first, second = add_event(uow_factory, one), add_event(uow_factory, two)
    with uow_factory() as uow:
        uow.deliveries.add_for_events(
            [(first, [channel.id, other.id]), (second, [other.id, unknown_channel()])]
        )
        uow.deliveries.add_for_events([])
        uow.commit()
    with uow_factory() as uow:
        mine = uow.deliveries.list(channel.id, limit=10)
        theirs = uow.deliveries.list(other.id, limit=10)
    assert [(d.event_id, d.webserver_id, d.next_attempt_at) for d in mine] == [
        (first.id, one.id, first.occurred_at)
    ]
    assert [d.event_id for d in theirs] == [first.id, second.id]
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in mine + theirs)
