"""DeliverDueEvents with the in-memory store and a fake notifier: concurrency, retries, outages, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Self

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.delivery_loop import DeliverDueEvents, DeliverySettings
from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.metrics import DELIVERIES_SENT
from healthmon.application.use_cases.deliveries import ClaimDueDeliveries, RecordDeliveryAttempt
from healthmon.domain.channels import Channel, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import AttemptOutcome, Delivery, DeliveryStatus, RetrySchedule
from healthmon.domain.events import EventId, EventType
from tests.alert_factories import SECRET, health_changed
from tests.fakes import EPOCH, FakeNotifier
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(20)

FAILED_500 = AttemptOutcome(delivered=False, status_code=500, error="the receiver answered 500")


class SwitchableUnitOfWork(InMemoryUnitOfWork):
    """The in-memory store behind a switch that makes it unreachable, as a database outage would."""

    def __init__(self, store: InMemoryStore, is_down: Callable[[], bool]) -> None:
        super().__init__(store)
        self._is_down = is_down

    def __enter__(self) -> Self:
        if self._is_down():
            raise StorageUnavailable("connection refused (test outage)")
        return super().__enter__()


class Harness:
    def __init__(self, **settings: float) -> None:
        self.store = InMemoryStore(SystemClock())
        self.down = False
        self.notifier = FakeNotifier()
        self.metrics = InMemoryMetrics()

        def uow() -> SwitchableUnitOfWork:
            return SwitchableUnitOfWork(self.store, lambda: self.down)

        values: dict[str, float] = {
            "poll_seconds": 0.05,
            "shutdown_grace_seconds": 1.0,
            "retry_initial_seconds": 0.02,
            "retry_max_seconds": 0.05,
        }
        values.update(settings)
        concurrency = int(values.pop("concurrency", 20))
        self.settings = DeliverySettings(concurrency=concurrency, **values)
        self.loop = DeliverDueEvents(
            lambda: ClaimDueDeliveries(uow(), claim_seconds=self.settings.claim_seconds),
            lambda: RecordDeliveryAttempt(uow(), schedule=RetrySchedule((0.1, 0.1, 0.1)), jitter=lambda: 0.0),
            self.notifier,
            SystemClock(),
            self.settings,
            worker_id="w1",
            metrics=self.metrics,
        )
        self.channel = self.add_channel()

    def add_channel(self, *, enabled: bool = True) -> Channel:
        with InMemoryUnitOfWork(self.store) as uow:
            channel = uow.channels.add(
                ChannelSettings(
                    kind=ChannelKind.WEBHOOK, url="https://hook.test/", secret=SECRET, enabled=enabled
                ),
                EPOCH,
            )
            uow.commit()
        return channel

    def queue(
        self, count: int = 1, *, channel: Channel | None = None, same_server: bool = False
    ) -> list[EventId]:
        ids = []
        with InMemoryUnitOfWork(self.store) as uow:
            for n in range(count):
                template = health_changed(n + 1, webserver_id=7 if same_server else n + 1)
                event = uow.events.add(EventType.HEALTH_CHANGED, template.occurred_at, template.change)
                uow.deliveries.add_many(event, [(channel or self.channel).id], self.store.clock.now())
                ids.append(event.id)
            uow.commit()
        return ids

    def deliveries(self) -> list[Delivery]:
        with InMemoryUnitOfWork(self.store) as uow:
            return uow.deliveries.list((self.channel.id), limit=1000)

    def statuses(self) -> list[DeliveryStatus]:
        return [delivery.status for delivery in self.deliveries()]

    def all_delivered(self) -> bool:
        return all(status is DeliveryStatus.DELIVERED for status in self.statuses())

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Event]:
        stop = asyncio.Event()
        task = asyncio.create_task(self.loop.run(stop))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)


async def test_delivers_every_queued_event_once() -> None:
    harness = Harness()
    ids = harness.queue(5)
    async with harness.running():
        await eventually(harness.all_delivered, what="every delivery delivered")
    assert sorted(event_id for _, event_id in harness.notifier.sent) == sorted(ids)
    assert harness.loop.stats.delivered == 5


async def test_picks_up_events_queued_while_running() -> None:
    harness = Harness()
    async with harness.running():
        await asyncio.sleep(0)
        harness.queue(2)
        await eventually(lambda: len(harness.notifier.sent) == 2 and harness.all_delivered())


async def test_sends_at_most_concurrency_at_once() -> None:
    harness = Harness(concurrency=3)
    harness.notifier.gate.clear()
    harness.queue(10)
    async with harness.running():
        await eventually(lambda: harness.notifier.waiting == 3, what="three sends in flight")
        await asyncio.sleep(0.2)  # several polls: none of them may start a fourth send
        assert harness.notifier.waiting == 3
        harness.notifier.gate.set()
        await eventually(harness.all_delivered)
    assert len(harness.notifier.sent) == 10


async def test_a_backlog_is_drained_without_waiting_for_the_poll() -> None:
    harness = Harness(concurrency=4, poll_seconds=30)
    harness.queue(40)
    async with harness.running():
        await eventually(harness.all_delivered, within=3, what="the backlog delivered well within one poll")


async def test_failed_attempts_are_retried_until_delivered() -> None:
    harness = Harness()
    harness.notifier.answer(harness.channel.id, FAILED_500, FAILED_500)
    [event_id] = harness.queue()
    async with harness.running():
        await eventually(harness.all_delivered)
    assert harness.notifier.sent == [(harness.channel.id, event_id)] * 3
    [delivery] = harness.deliveries()
    assert delivery.attempts == 3
    assert harness.loop.stats.failed_attempts == 2
    assert harness.metrics.value(DELIVERIES_SENT, "retrying") == 2
    assert harness.metrics.value(DELIVERIES_SENT, "delivered") == 1
    assert harness.metrics.value(DELIVERIES_SENT) == 3


async def test_events_of_one_server_go_out_in_order_even_when_one_is_retried() -> None:
    harness = Harness()
    harness.notifier.answer(harness.channel.id, FAILED_500)
    ids = harness.queue(3, same_server=True)
    async with harness.running():
        await eventually(harness.all_delivered)
    assert [event_id for _, event_id in harness.notifier.sent] == [ids[0], *ids]


async def test_a_notifier_bug_is_a_failed_attempt_and_the_loop_goes_on() -> None:
    harness = Harness()
    harness.notifier.answer(harness.channel.id, RuntimeError("bug in an adapter"))
    harness.queue()
    async with harness.running():
        await eventually(harness.all_delivered)
    [delivery] = harness.deliveries()
    assert delivery.attempts == 2


async def test_a_disabled_channel_is_not_sent_to_until_it_is_enabled_again() -> None:
    harness = Harness()
    disabled = harness.add_channel(enabled=False)
    harness.queue(channel=disabled)
    async with harness.running():
        await asyncio.sleep(0.3)  # several polls
        assert harness.notifier.sent == []
        with InMemoryUnitOfWork(harness.store) as uow:
            uow.channels.save(
                dataclasses.replace(disabled, settings=dataclasses.replace(disabled.settings, enabled=True))
            )
            uow.commit()
        await eventually(lambda: len(harness.notifier.sent) == 1, what="the delivery sent once enabled")


async def test_keeps_going_through_a_database_outage() -> None:
    harness = Harness()
    harness.down = True
    harness.queue(3)
    async with harness.running():
        await eventually(lambda: not harness.loop.stats.storage_available, what="the outage noticed")
        await asyncio.sleep(0.2)
        assert harness.notifier.sent == []
        harness.down = False
        await eventually(harness.all_delivered)
    assert harness.loop.stats.storage_available
    assert len(harness.notifier.sent) == 3


async def test_an_outcome_is_recorded_once_the_database_is_back() -> None:
    harness = Harness()
    harness.notifier.gate.clear()
    harness.queue()
    async with harness.running():
        await eventually(lambda: harness.notifier.waiting == 1)
        harness.down = True
        harness.notifier.gate.set()
        await eventually(lambda: not harness.loop.stats.storage_available)
        await asyncio.sleep(0.2)
        harness.down = False
        await eventually(harness.all_delivered)
    assert len(harness.notifier.sent) == 1
    assert harness.loop.stats.unrecorded == 0


async def test_an_outcome_not_recorded_before_the_claim_lapses_is_sent_again() -> None:
    harness = Harness(claim_seconds=0.3)
    harness.notifier.gate.clear()
    [event_id] = harness.queue()
    async with harness.running():
        await eventually(lambda: harness.notifier.waiting == 1)
        harness.down = True
        harness.notifier.gate.set()
        await eventually(lambda: harness.loop.stats.unrecorded == 1, what="the record given up")
        harness.down = False
        await eventually(harness.all_delivered)
    assert harness.notifier.sent == [(harness.channel.id, event_id)] * 2
    assert harness.metrics.value(DELIVERIES_SENT, "unrecorded") == 1
    assert harness.metrics.value(DELIVERIES_SENT, "delivered") == 1


async def test_stopping_lets_in_flight_sends_finish_within_the_grace() -> None:
    harness = Harness(shutdown_grace_seconds=5)
    harness.notifier.gate.clear()
    harness.queue(2)
    stop = asyncio.Event()
    task = asyncio.create_task(harness.loop.run(stop))
    await eventually(lambda: harness.notifier.waiting == 2)
    stop.set()
    await asyncio.sleep(0.1)
    assert not task.done()
    harness.notifier.gate.set()
    stats = await asyncio.wait_for(task, timeout=5)
    assert (stats.delivered, stats.abandoned_at_shutdown) == (2, 0)
    assert harness.all_delivered()


async def test_stopping_abandons_sends_that_outlast_the_grace() -> None:
    harness = Harness(shutdown_grace_seconds=0.2)
    harness.notifier.gate.clear()
    harness.queue(2)
    stop = asyncio.Event()
    task = asyncio.create_task(harness.loop.run(stop))
    await eventually(lambda: harness.notifier.waiting == 2)
    stop.set()
    stats = await asyncio.wait_for(task, timeout=5)
    assert stats.abandoned_at_shutdown == 2
    assert harness.statuses() == [DeliveryStatus.PENDING] * 2
