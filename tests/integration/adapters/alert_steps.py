"""Steps the alert storage contracts share: each runs in a unit of work of its own and commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthmon.domain.channels import Channel, ChannelId, ChannelKind, ChannelSettings
from healthmon.domain.events import EventType, HealthChanged, RecordedEvent, WebserverSnapshot
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import Webserver
from tests.factories import settings, succeeded
from tests.fakes import EPOCH
from tests.integration.conftest import UowFactory

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="


def add_webserver(uow_factory: UowFactory, n: int = 1) -> Webserver:
    with uow_factory() as uow:
        webserver = uow.webservers.add(settings(n), EPOCH)
        uow.commit()
    return webserver


def add_channel(uow_factory: UowFactory, **overrides: object) -> Channel:
    values: dict[str, object] = {"kind": ChannelKind.WEBHOOK, "url": "https://receiver.test/hook"}
    values.update(overrides)
    with uow_factory() as uow:
        channel = uow.channels.add(ChannelSettings(**values), EPOCH)  # type: ignore[arg-type]
        uow.commit()
    return channel


def health_change(
    webserver: Webserver,
    *,
    to: HealthState = HealthState.HEALTHY,
    at: datetime = EPOCH,
    probe: ProbeResult | None = None,
) -> HealthChanged:
    snapshot = WebserverSnapshot(webserver.id, webserver.settings.name, webserver.settings.url)
    came_from = HealthState.UNKNOWN if to is not HealthState.UNKNOWN else HealthState.HEALTHY
    return HealthChanged(snapshot, came_from, to, at, succeeded(webserver.id, at) if probe is None else probe)


def add_event(uow_factory: UowFactory, webserver: Webserver | None, **change: object) -> RecordedEvent:
    """A health event about the webserver, or a channel test event when it is None."""
    with uow_factory() as uow:
        if webserver is None:
            event = uow.events.add(EventType.TEST, EPOCH, None)
        else:
            made = health_change(webserver, **change)  # type: ignore[arg-type]
            event = uow.events.add(EventType.HEALTH_CHANGED, made.occurred_at, made)
        uow.commit()
    return event


def due_now() -> datetime:
    # A second ago on the wall clock, which every store's clock (PostgreSQL's too) is past.
    return datetime.now(UTC) - timedelta(seconds=1)


def queue(
    uow_factory: UowFactory, event: RecordedEvent, *channels: Channel, due: datetime | None = None
) -> None:
    with uow_factory() as uow:
        uow.deliveries.add_many(event, [channel.id for channel in channels], due or due_now())
        uow.commit()


def unknown_channel() -> ChannelId:
    return ChannelId(424242)
