"""The storage contract for what a scrape reads, on every UnitOfWork adapter: readings and counts."""

from __future__ import annotations

from datetime import timedelta

from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.events import EventType
from tests.factories import failed, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.alert_steps import add_channel, add_event, queue
from tests.integration.adapters.storage_steps import add
from tests.integration.conftest import UowFactory


def test_readings_list_every_webserver_in_id_order_with_its_newest_probe(uow_factory: UowFactory) -> None:
    probed, never, flaky = (add(uow_factory, n) for n in range(1, 4))
    later = EPOCH + timedelta(seconds=10)
    with uow_factory() as uow:
        # Stored out of order: the newest by start time counts, not the last written.
        uow.probe_results.add_many(
            [
                succeeded(probed.id, later, latency_ms=80.0),
                failed(probed.id, EPOCH),
                succeeded(flaky.id, EPOCH, latency_ms=5.0),
                failed(flaky.id, later, status_code=None),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        readings = uow.webservers.readings()
    assert [reading.webserver.id for reading in readings] == [probed.id, never.id, flaky.id]
    assert [reading.webserver for reading in readings] == [probed, never, flaky]
    assert [(reading.last_success, reading.last_latency_ms) for reading in readings] == [
        (True, 80.0),
        (None, None),
        (False, 0.4),
    ]


def test_readings_of_an_empty_store_are_empty(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.webservers.readings() == []


def test_events_are_counted_by_type_every_type_present(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.events.count_by_type() == dict.fromkeys(EventType, 0)
    webserver = add(uow_factory)
    add_event(uow_factory, webserver)
    add_event(uow_factory, webserver)
    add_event(uow_factory, None)
    with uow_factory() as uow:
        assert uow.events.count_by_type() == {
            **dict.fromkeys(EventType, 0),
            EventType.HEALTH_CHANGED: 2,
            EventType.TEST: 1,
        }


def test_deliveries_are_counted_by_status_every_status_present(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.deliveries.count_by_status() == dict.fromkeys(DeliveryStatus, 0)
    event = add_event(uow_factory, add(uow_factory))
    queue(uow_factory, event, add_channel(uow_factory), add_channel(uow_factory))
    with uow_factory() as uow:
        assert uow.deliveries.count_by_status() == {
            DeliveryStatus.PENDING: 2,
            DeliveryStatus.DELIVERED: 0,
            DeliveryStatus.FAILED: 0,
        }
