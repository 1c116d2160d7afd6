"""ClaimDueDeliveries and RecordDeliveryAttempt against the in-memory store and a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import ClaimedDelivery
from healthmon.application.use_cases.deliveries import (
    ClaimDueDeliveries,
    DeliveryAttempt,
    RecordDeliveryAttempt,
    random_jitter,
)
from healthmon.domain.channels import Channel, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import AttemptOutcome, DeliveryStatus, RetrySchedule
from healthmon.domain.events import EventType, RecordedEvent
from tests.alert_factories import SECRET, health_changed
from tests.fakes import EPOCH, FakeClock

SCHEDULE = RetrySchedule((1, 2, 4))
FAILED_500 = AttemptOutcome(delivered=False, status_code=500, error="the receiver answered 500")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryStore:
    return InMemoryStore(clock)


@pytest.fixture
def claim(store: InMemoryStore) -> ClaimDueDeliveries:
    return ClaimDueDeliveries(InMemoryUnitOfWork(store), claim_seconds=60)


@pytest.fixture
def record(store: InMemoryStore) -> RecordDeliveryAttempt:
    return RecordDeliveryAttempt(InMemoryUnitOfWork(store), schedule=SCHEDULE, jitter=lambda: 0.0)


def add_channel(store: InMemoryStore) -> Channel:
    with InMemoryUnitOfWork(store) as uow:
        channel = uow.channels.add(
            ChannelSettings(kind=ChannelKind.WEBHOOK, url="https://hook.test/", secret=SECRET), EPOCH
        )
        uow.commit()
    return channel


def queue(store: InMemoryStore, channel: Channel, template: RecordedEvent | None = None) -> RecordedEvent:
    """Store a health event (like the template) and queue it for the channel, due now."""
    template = template or health_changed()
    with InMemoryUnitOfWork(store) as uow:
        event = uow.events.add(EventType.HEALTH_CHANGED, template.occurred_at, template.change)
        uow.deliveries.add_many(event, [channel.id], store.clock.now())
        uow.commit()
    return event


def attempt(
    claimed: ClaimedDelivery, outcome: AttemptOutcome, clock: FakeClock, worker: str = "w1"
) -> DeliveryAttempt:
    return DeliveryAttempt(worker_id=worker, claimed=claimed, outcome=outcome, at=clock.now())


def test_claims_due_deliveries_with_their_event_and_channel(
    store: InMemoryStore, claim: ClaimDueDeliveries
) -> None:
    channel = add_channel(store)
    event = queue(store, channel)
    [claimed] = claim.execute("w1", 10)
    assert (claimed.event, claimed.channel, claimed.delivery.status) == (
        event,
        channel,
        DeliveryStatus.PENDING,
    )


def test_a_claimed_delivery_is_nobody_else_s_until_the_claim_expires(
    store: InMemoryStore, claim: ClaimDueDeliveries, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    assert len(claim.execute("w1", 10)) == 1
    assert claim.execute("w2", 10) == []
    clock.advance(61)
    assert len(claim.execute("w2", 10)) == 1


def test_a_delivered_attempt_is_written_and_the_delivery_is_done(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    [claimed] = claim.execute("w1", 10)
    written = record.execute(attempt(claimed, AttemptOutcome(delivered=True, status_code=200), clock))
    assert written is not None
    assert (written.status, written.attempts, written.delivered_at) == (DeliveryStatus.DELIVERED, 1, EPOCH)
    clock.advance(3600)
    assert claim.execute("w1", 10) == []


def test_a_failed_attempt_waits_for_the_next_scheduled_step(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    [claimed] = claim.execute("w1", 10)
    written = record.execute(attempt(claimed, FAILED_500, clock))
    assert written is not None
    assert (written.status, written.attempts, written.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert written.next_attempt_at == EPOCH + timedelta(seconds=1)
    clock.advance(0.5)
    assert claim.execute("w1", 10) == []
    clock.advance(0.5)
    [again] = claim.execute("w1", 10)
    assert again.delivery.attempts == 1


def test_the_last_failed_attempt_fails_the_delivery(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    statuses = []
    for _ in range(SCHEDULE.attempts):
        [claimed] = claim.execute("w1", 10)
        written = record.execute(attempt(claimed, FAILED_500, clock))
        assert written is not None
        statuses.append(written.status)
        clock.advance(10)
    assert statuses == [DeliveryStatus.PENDING] * 3 + [DeliveryStatus.FAILED]
    assert claim.execute("w1", 10) == []


def test_an_attempt_whose_claim_was_lost_writes_nothing(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    [first] = claim.execute("w1", 10)
    clock.advance(61)
    [second] = claim.execute("w2", 10)
    assert record.execute(attempt(first, AttemptOutcome(delivered=True), clock, worker="w1")) is None
    written = record.execute(attempt(second, FAILED_500, clock, worker="w2"))
    assert written is not None
    assert written.attempts == 1


def test_a_gone_receiver_fails_the_delivery_and_turns_the_channel_off(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    channel = add_channel(store)
    queue(store, channel)
    [claimed] = claim.execute("w1", 10)
    gone = AttemptOutcome(delivered=False, status_code=410, error="the receiver answered 410 Gone", gone=True)
    written = record.execute(attempt(claimed, gone, clock))
    assert written is not None
    assert written.status is DeliveryStatus.FAILED
    with InMemoryUnitOfWork(store) as uow:
        stored = uow.channels.get(channel.id)
    assert stored is not None
    assert not stored.settings.enabled
    assert stored.disabled_reason == "the receiver answered 410 Gone (2026-01-01T00:00:00+00:00)"
    assert stored.updated_at == EPOCH


def test_retry_after_shortens_the_wait(
    store: InMemoryStore, claim: ClaimDueDeliveries, clock: FakeClock
) -> None:
    queue(store, add_channel(store))
    record = RecordDeliveryAttempt(
        InMemoryUnitOfWork(store), schedule=RetrySchedule((60,)), jitter=lambda: 1.0
    )
    [claimed] = claim.execute("w1", 10)
    limited = AttemptOutcome(delivered=False, status_code=429, retry_after_seconds=5)
    written = record.execute(attempt(claimed, limited, clock))
    assert written is not None
    assert written.next_attempt_at == EPOCH + timedelta(seconds=5)


def test_jitter_stretches_the_wait(store: InMemoryStore, claim: ClaimDueDeliveries, clock: FakeClock) -> None:
    queue(store, add_channel(store))
    record = RecordDeliveryAttempt(
        InMemoryUnitOfWork(store), schedule=RetrySchedule((10,)), jitter=lambda: 1.0
    )
    [claimed] = claim.execute("w1", 10)
    written = record.execute(attempt(claimed, FAILED_500, clock))
    assert written is not None
    assert written.next_attempt_at == EPOCH + timedelta(seconds=11)


def test_the_default_jitter_stays_within_one_either_way() -> None:
    samples = [random_jitter() for _ in range(1000)]
    assert all(-1 <= sample <= 1 for sample in samples)
    assert min(samples) < 0 < max(samples)


def test_a_later_event_of_the_same_server_waits_for_the_earlier_one(
    store: InMemoryStore, claim: ClaimDueDeliveries, record: RecordDeliveryAttempt, clock: FakeClock
) -> None:
    channel = add_channel(store)
    first = queue(store, channel, health_changed(1))
    second = queue(store, channel, health_changed(2))
    other = queue(store, channel, health_changed(3, webserver_id=8))
    claimed = claim.execute("w1", 10)
    assert [c.event.id for c in claimed] == [first.id, other.id]
    record.execute(attempt(claimed[0], FAILED_500, clock))
    clock.advance(5)
    [retried] = claim.execute("w1", 10)
    assert retried.event.id == first.id
    record.execute(attempt(retried, AttemptOutcome(delivered=True), clock))
    [after] = claim.execute("w1", 10)
    assert after.event.id == second.id
