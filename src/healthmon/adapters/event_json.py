"""The JSON form of an event, as receivers see it: the `data` of a webhook (and an item of the feed)."""

from __future__ import annotations

from typing import Any

from healthmon.domain.events import RecordedEvent
from healthmon.domain.probe import ProbeResult


def event_data(event: RecordedEvent) -> dict[str, Any]:
    """The event as a JSON-ready mapping (datetimes stay datetimes: the encoder writes them as RFC 3339).

    A test event has the same keys, with null where a health change would say what changed.
    """
    change = event.change
    return {
        "id": event.id,
        "type": event.type.value,
        "webserver_id": None if change is None else change.webserver.id,
        "webserver": None
        if change is None
        else {"id": change.webserver.id, "name": change.webserver.name, "url": change.webserver.url},
        "from": None if change is None else change.from_state.value,
        "to": None if change is None else change.to_state.value,
        "occurred_at": event.occurred_at,
        "probe": None if change is None or change.probe is None else probe_data(change.probe),
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
