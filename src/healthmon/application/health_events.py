"""How health changes and certificate warnings are written down: an event, a delivery per channel."""

from __future__ import annotations

from collections.abc import Sequence

from healthmon.application.ports import UnitOfWork
from healthmon.domain.channels import Channel
from healthmon.domain.events import CertificateExpiring, HealthChanged, RecordedEvent, WebserverSnapshot
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
    _queue(uow, events, channels)
    return events


def record_certificate_warnings(
    uow: UnitOfWork, warnings: Sequence[CertificateExpiring], channels: Sequence[Channel]
) -> list[RecordedEvent]:
    """Store each certificate warning as an event and queue it for every covering channel, like a change."""
    if not warnings:
        return []
    events = uow.events.add_certificate_warnings(warnings)
    _queue(uow, events, channels)
    return events


def _queue(uow: UnitOfWork, events: Sequence[RecordedEvent], channels: Sequence[Channel]) -> None:
    queued = [
        (event, covering)
        for event in events
        if event.webserver_id is not None
        and (covering := [channel.id for channel in channels if channel.settings.covers(event.webserver_id)])
    ]
    if queued:
        uow.deliveries.add_for_events(queued)
