"""Health events: one record per change of a webserver's health, kept as history and sent as alerts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import WebserverId

# The public id of an event ("evt_" and random characters): the same on every delivery attempt,
# so receivers can drop duplicates.
EventId = NewType("EventId", str)
EVENT_ID_PREFIX = "evt_"
# Random bytes after the prefix (hex-encoded): 128 bits, so two events never share an id.
EVENT_ID_BYTES = 16


def new_event_id() -> EventId:
    """A fresh public event id: the prefix and 32 random hex characters."""
    return EventId(EVENT_ID_PREFIX + secrets.token_hex(EVENT_ID_BYTES))


class EventType(StrEnum):
    """What happened; stable names that receivers match on."""

    HEALTH_CHANGED = "webserver.health_changed"
    # A webserver's TLS certificate came within one of HEALTHMON_CERT_WARN_DAYS of its expiry.
    CERTIFICATE_EXPIRING = "webserver.certificate_expiring"
    # Sent by POST /channels/{id}/test to one channel only; never part of the events feed.
    TEST = "webhook.test"


@dataclass(frozen=True, slots=True)
class WebserverSnapshot:
    """The webserver as it was when the event happened (its name and URL may change later)."""

    id: WebserverId
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class HealthChanged:
    """A webserver's health moved from one state to another.

    - occurred_at is the start time of the probe that changed the health, or the time of the
      settings change that reset it to unknown (then probe is None).
    """

    webserver: WebserverSnapshot
    from_state: HealthState
    to_state: HealthState
    occurred_at: datetime
    probe: ProbeResult | None

    def __post_init__(self) -> None:
        if self.from_state is self.to_state:
            raise ValueError("a health change needs two different states")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class CertificateExpiring:
    """A webserver's certificate came within threshold_days of its expiry, seen by a probe at occurred_at."""

    webserver: WebserverSnapshot
    expires_at: datetime
    threshold_days: int
    occurred_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None or self.occurred_at.tzinfo is None:
            raise ValueError("expires_at and occurred_at must be timezone-aware")
        if self.threshold_days < 1:
            raise ValueError("a warning threshold is at least one day")


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: its public id, its place in the feed (sequence), and what happened.

    - Sequences grow in commit order, so a reader that remembers the last one it saw never
      misses or repeats an event.
    - A health event has a change; a certificate event has a certificate (and no change); a test
      event has neither, and no webserver.
    """

    id: EventId
    sequence: int
    type: EventType
    occurred_at: datetime
    change: HealthChanged | None
    certificate: CertificateExpiring | None = None

    @property
    def webserver(self) -> WebserverSnapshot | None:
        """The webserver the event is about, as it was then, if any."""
        if self.change is not None:
            return self.change.webserver
        return None if self.certificate is None else self.certificate.webserver

    @property
    def webserver_id(self) -> WebserverId | None:
        """The webserver the event is about, if any."""
        webserver = self.webserver
        return None if webserver is None else webserver.id
