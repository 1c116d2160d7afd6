"""Alerts end to end: the real `healthmon serve` probes real targets and delivers to a real receiver.

Every test runs on SQLite and on PostgreSQL. Channels are stored straight through the storage adapter
(the test plays the API's part); webservers are registered over the API. Thresholds of 1 and a 1 s
interval make health move within a second or two; retries follow HEALTHMON_DELIVERY_RETRY_SECONDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.domain.channels import Channel, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import Delivery, DeliveryStatus
from healthmon.domain.events import RecordedEvent
from tests.alert_factories import SECRET
from tests.integration.conftest import scratch_database
from tests.integration.receivers import WebhookReceiver
from tests.integration.service import Service, ServiceRunner, TargetServer, run_db_upgrade, service_runner
from tests.waiting import eventually_sync

pytestmark = pytest.mark.timeout(120)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Quick alerts: retries after 1, 2 and 4 s; a claim outlives a 2 s attempt.
ALERT_SETTINGS = {
    "delivery_retry_seconds": "1,2,4",
    "delivery_timeout_seconds": "2",
    "delivery_claim_seconds": "4",
}
# A server that flips on its first probe that says so.
QUICK_SERVER: dict[str, Any] = {"interval_seconds": 1, "healthy_threshold": 1, "unhealthy_threshold": 1}


@contextmanager
def migrated_database(backend: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """The URL of an empty database on the backend (SQLite migrates itself when served)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'healthmon.db'}"
        return
    admin_url: URL = request.getfixturevalue("postgres_admin_url")
    with scratch_database(admin_url, "healthmon_alerts") as url:
        rendered = url.render_as_string(hide_password=False)
        run_db_upgrade(rendered)
        yield rendered


class Store:
    """The service's database, read and written from the test through the storage adapter."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_database_engine(database_url, pool_size=2)
        self._sessions = create_session_factory(self.engine)

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._sessions)

    def add_webhook(self, url: str) -> Channel:
        with self.uow() as uow:
            channel = uow.channels.add(
                ChannelSettings(kind=ChannelKind.WEBHOOK, url=url, secret=SECRET), datetime.now(UTC)
            )
            uow.commit()
        return channel

    def events(self) -> list[RecordedEvent]:
        with self.uow() as uow:
            return uow.events.feed(after=None, limit=1000)

    def deliveries(self, channel: Channel) -> list[Delivery]:
        with self.uow() as uow:
            return uow.deliveries.list(channel.id, limit=1000)


@contextmanager
def alerting_service(
    backend: str, request: pytest.FixtureRequest, directory: Path, **settings: str
) -> Iterator[tuple[ServiceRunner, Service, Store]]:
    with migrated_database(backend, request, directory) as url, service_runner(request, directory) as runner:
        service = runner.serve(url, **{**ALERT_SETTINGS, **settings})
        store = Store(url)
        try:
            yield runner, service, store
        finally:
            store.engine.dispose()


def transitions(receiver: WebhookReceiver) -> list[tuple[str, str]]:
    """(from, to) of every delivered event, in arrival order; each signature is checked on the way."""
    return [(request.data["from"], request.data["to"]) for request in receiver.delivered()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_target_toggled_down_and_up_is_delivered_once_per_change_in_order(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with (
        TargetServer() as target,
        WebhookReceiver() as receiver,
        alerting_service(backend, request, tmp_path) as (_, service, store),
    ):
        channel = store.add_webhook(receiver.url)
        server = service.register("toggled", target.url("/t"), **QUICK_SERVER)
        eventually_sync(lambda: len(receiver.delivered()) == 1, within=15, what="the first health event")
        target.respond("/t", 500)
        eventually_sync(lambda: len(receiver.delivered()) == 2, within=15, what="the unhealthy event")
        target.respond("/t", 200)
        eventually_sync(lambda: len(receiver.delivered()) == 3, within=15, what="the recovery event")
        assert service.stop() == 0
        events = store.events()
        deliveries = store.deliveries(channel)
    assert transitions(receiver) == [
        ("unknown", "healthy"),
        ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
    ]
    assert receiver.ids() == [event.id for event in events]
    delivered = [request.data for request in receiver.delivered()]
    assert {data["webserver_id"] for data in delivered} == {server["id"]}
    assert [data["probe"]["status_code"] for data in delivered] == [200, 500, 200]
    assert [(d.status, d.attempts) for d in deliveries] == [(DeliveryStatus.DELIVERED, 1)] * 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_receiver_failing_twice_is_retried_with_the_same_webhook_id(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with (
        TargetServer() as target,
        WebhookReceiver() as receiver,
        alerting_service(backend, request, tmp_path) as (_, service, store),
    ):
        channel = store.add_webhook(receiver.url)
        receiver.script(500, 500)
        service.register("steady", target.url("/ok"), **QUICK_SERVER)
        eventually_sync(
            lambda: [d.status for d in store.deliveries(channel)] == [DeliveryStatus.DELIVERED],
            within=20,
            what="the third attempt delivered and recorded",
        )
        [delivery] = store.deliveries(channel)
    [event_id] = set(receiver.ids())
    assert [request.status for request in receiver.received] == [500, 500, 200]
    assert receiver.ids() == [event_id] * 3
    assert {request.data["id"] for request in receiver.received} == {event_id}  # every attempt verifies
    stamps = [int(request.headers["webhook-timestamp"]) for request in receiver.received]
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= 2  # waited about 1 s, then about 2 s
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        3,
        200,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_receiver_down_then_up_gets_every_event_in_order(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with (
        TargetServer() as target,
        WebhookReceiver() as receiver,
        alerting_service(backend, request, tmp_path, delivery_retry_seconds="1,2,4,8") as (_, service, store),
    ):
        channel = store.add_webhook(receiver.url)
        receiver.stop()
        service.register("flapping", target.url("/f"), **QUICK_SERVER)
        eventually_sync(lambda: len(store.events()) == 1, within=15, what="healthy")
        target.respond("/f", 500)
        eventually_sync(lambda: len(store.events()) == 2, within=15, what="unhealthy")
        target.respond("/f", 200)
        eventually_sync(lambda: len(store.events()) == 3, within=15, what="healthy again")
        eventually_sync(
            lambda: store.deliveries(channel)[0].attempts >= 2,
            within=15,
            what="the first two attempts refused",
        )
        assert receiver.received == []
        receiver.start()
        eventually_sync(lambda: len(receiver.delivered()) == 3, within=20, what="everything delivered")
        events = store.events()
    assert receiver.ids() == [event.id for event in events]
    assert transitions(receiver) == [
        ("unknown", "healthy"),
        ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
    ]
