"""How a health change is written down: one event, and one delivery per channel that takes it."""

from __future__ import annotations

from collections.abc import Sequence

from healthmon.application.ports import UnitOfWork
from healthmon.domain.channels import Channel
from healthmon.domain.events import EventType, HealthChanged, RecordedEvent, WebserverSnapshot
from healthmon.domain.webserver import Webserver


def snapshot(webserver: Webserver) -> WebserverSnapshot:
    """The webserver as an event shows it: id, name and URL as they are now."""
    return WebserverSnapshot(id=webserver.id, name=webserver.settings.name, url=webserver.settings.url)


def record_health_change(
    uow: UnitOfWork, change: HealthChanged, channels: Sequence[Channel]
) -> RecordedEvent:
    """Store the change as an event in the caller's unit of work and queue it for every covering channel.

    - channels are every channel (uow.channels.all(), read once per batch); only the enabled ones
      that cover the webserver get a delivery.
    - A delivery is due from the moment its event happened, so the first attempt is made at once.
    """
    event = uow.events.add(EventType.HEALTH_CHANGED, change.occurred_at, change)
    covering = [channel.id for channel in channels if channel.settings.covers(change.webserver.id)]
    if covering:
        uow.deliveries.add_many(event, covering, due=change.occurred_at)
    return event
