"""Builders for the alert values (events, channels, deliveries) that tests need often."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from healthmon.domain.channels import SECRET_PREFIX, Channel, ChannelId, ChannelKind, ChannelSettings
from healthmon.domain.events import (
    CertificateExpiring,
    EventId,
    EventType,
    HealthChanged,
    RecordedEvent,
    WebserverSnapshot,
)
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import WebserverId
from tests.factories import failed
from tests.fakes import EPOCH

# A fixed Standard Webhooks secret (32 bytes), so a test can verify what was signed with it.
SECRET = SECRET_PREFIX + base64.b64encode(bytes(range(32))).decode()


def webhook_channel(url: str, channel_id: int = 1, **overrides: object) -> Channel:
    """An enabled webhook channel for every webserver, signing with SECRET."""
    values: dict[str, object] = {"kind": ChannelKind.WEBHOOK, "url": url, "secret": SECRET}
    values.update(overrides)
    return Channel(
        id=ChannelId(channel_id),
        settings=ChannelSettings(**values),  # type: ignore[arg-type]
        created_at=EPOCH,
        updated_at=EPOCH,
    )


def apprise_channel(url: str, channel_id: int = 2) -> Channel:
    """An enabled apprise channel for every webserver."""
    return Channel(
        id=ChannelId(channel_id),
        settings=ChannelSettings(kind=ChannelKind.APPRISE, url=url),
        created_at=EPOCH,
        updated_at=EPOCH,
    )


def health_changed(
    sequence: int = 1,
    *,
    webserver_id: int = 7,
    from_state: HealthState = HealthState.HEALTHY,
    to_state: HealthState = HealthState.UNHEALTHY,
    occurred_at: datetime = EPOCH,
    probe: ProbeResult | None = None,
) -> RecordedEvent:
    """A stored health event of webserver `webserver_id` ("server N"); by default unhealthy on a 500."""
    server = WebserverId(webserver_id)
    change = HealthChanged(
        webserver=WebserverSnapshot(
            id=server, name=f"server {webserver_id}", url="http://server.test/health"
        ),
        from_state=from_state,
        to_state=to_state,
        occurred_at=occurred_at,
        probe=failed(server, occurred_at) if probe is None else probe,
    )
    return RecordedEvent(
        id=EventId(f"evt_{sequence:08d}"),
        sequence=sequence,
        type=EventType.HEALTH_CHANGED,
        occurred_at=occurred_at,
        change=change,
    )


def certificate_expiring(
    sequence: int = 1,
    *,
    webserver_id: int = 7,
    expires_at: datetime = EPOCH + timedelta(days=6, hours=12),
    threshold_days: int = 7,
    occurred_at: datetime = EPOCH,
) -> RecordedEvent:
    """A stored certificate event of webserver `webserver_id` ("server N"): by default 6.5 days left."""
    server = WebserverId(webserver_id)
    warning = CertificateExpiring(
        webserver=WebserverSnapshot(id=server, name=f"server {webserver_id}", url="https://server.test/"),
        expires_at=expires_at,
        threshold_days=threshold_days,
        occurred_at=occurred_at,
    )
    return RecordedEvent(
        id=EventId(f"evt_{sequence:08d}"),
        sequence=sequence,
        type=EventType.CERTIFICATE_EXPIRING,
        occurred_at=occurred_at,
        change=None,
        certificate=warning,
    )
