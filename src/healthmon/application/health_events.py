"""How a health change is written down: one event, and one delivery per channel that takes it."""

from __future__ import annotations

from collections.abc import Sequence

from healthmon.application.ports import UnitOfWork
from healthmon.domain.channels import Channel
from healthmon.domain.events import HealthChanged, RecordedEvent, WebserverSnapshot
from healthmon.domain.webserver import Webserver


def snapshot(webserver: Webserver) -> WebserverSnapshot:
    """The webserver as an event shows it: id, name and URL (its password masked) as they are now."""
    settings = webserver.settings
    return WebserverSnapshot(id=webserver.id, name=settings.name, url=settings.display_url)


def record_health_changes(
    uow: UnitOfWork, changes: Sequence[HealthChanged], channels: Sequence[Channel]
) -> list[RecordedEvent]:
    """Store each change as an event in the caller's unit of work and queue it for every covering channel.

    - Events are stored in the order given, so their sequences follow it.
    - channels are every channel (uow.channels.all(), read once per batch); only the enabled ones
      that cover an event's webserver get a delivery.
    - A delivery is due from the moment its event happened, so the first attempt is made at once.
    - A batch costs a few statements, however many changes it holds.
    """
    if not changes:
        return []
    events = uow.events.add_changes(changes)
    queued = [
        (event, covering)
        for event, change in zip(events, changes, strict=True)
        if (covering := [channel.id for channel in channels if channel.settings.covers(change.webserver.id)])
    ]
    if queued:
        uow.deliveries.add_for_events(queued)
    return events
