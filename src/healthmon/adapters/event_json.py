"""The JSON form of an event, as receivers see it: the `data` of a webhook (and an item of the feed)."""

from __future__ import annotations

from typing import Any

from healthmon.domain.certificates import days_left
from healthmon.domain.events import CertificateExpiring, RecordedEvent
from healthmon.domain.probe import ProbeResult


def event_data(event: RecordedEvent) -> dict[str, Any]:
    """The event as a JSON-ready mapping (datetimes stay datetimes: the encoder writes them as RFC 3339).

    Every type has the keys of a health event, with null where it has nothing to say (a test event
    has no webserver, a certificate event no from, to or probe); a certificate event also has
    `certificate`. So a health event's data is the same as before certificate events existed, and
    the same as its item in the feed.
    """
    change = event.change
    webserver = event.webserver
    data: dict[str, Any] = {
        "id": event.id,
        "type": event.type.value,
        "webserver_id": None if webserver is None else webserver.id,
        "webserver": None
        if webserver is None
        else {"id": webserver.id, "name": webserver.name, "url": webserver.url},
        "from": None if change is None else change.from_state.value,
        "to": None if change is None else change.to_state.value,
        "occurred_at": event.occurred_at,
        "probe": None if change is None or change.probe is None else probe_data(change.probe),
    }
    if event.certificate is not None:
        data["certificate"] = certificate_data(event.certificate)
    return data


def certificate_data(warning: CertificateExpiring) -> dict[str, Any]:
    """A certificate warning: when it expires, the threshold crossed, and whole days left when seen."""
    return {
        "expires_at": warning.expires_at,
        "threshold_days": warning.threshold_days,
        "days_left": days_left(warning.expires_at, warning.occurred_at),
    }


def probe_data(probe: ProbeResult) -> dict[str, Any]:
    """A probe as in a webserver's requests history, without the id a stored probe would have."""
    return {
        "started_at": probe.started_at,
        "latency_ms": probe.latency_ms,
        "status_code": probe.status_code,
        "success": probe.success,
        "error": None
        if probe.error_kind is None
        else {"kind": probe.error_kind.value, "message": probe.error_message or ""},
    }
