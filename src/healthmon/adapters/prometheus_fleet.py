"""The fleet as Prometheus metric families: one collector over a FleetSnapshot, read from the store.

Every per-webserver series carries `webserver_id` and nothing else that grows without bound: the
name and the (password-masked) URL appear on `healthmon_webserver_info` only, and no error message
appears anywhere. A webserver has at most 8 series: up, health (one per state), last latency, last
check, TLS expiry and info.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from healthmon.application.use_cases.fleet import FleetSnapshot
from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.events import EventType
from healthmon.domain.health import HealthState
from healthmon.domain.url_display import display_url

PREFIX: Final = "healthmon_"
SERIES_PER_WEBSERVER_AT_MOST: Final = 8
_STATES: Final = tuple(HealthState)


class FleetCollector(Collector):
    """Collects one snapshot's families; the snapshot never changes, so neither does what it yields."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from _webserver_families(self._snapshot)
        yield from _fleet_families(self._snapshot)


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=labels)


def _webserver_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    server = ["webserver_id"]
    up = _gauge("webserver_up", "1 when the webserver's last probe succeeded, 0 when it failed.", server)
    health = _gauge(
        "webserver_health",
        "1 for the webserver's current health state, 0 for the others.",
        [*server, "state"],
    )
    latency = _gauge("webserver_last_latency_seconds", "Latency of the webserver's last probe.", server)
    checked = _gauge(
        "webserver_last_check_timestamp_seconds", "When the webserver was last probed (Unix time).", server
    )
    tls_expiry = _gauge(
        "webserver_tls_expiry_timestamp_seconds",
        "When the webserver's TLS certificate expires (Unix time), once a probe has seen it.",
        server,
    )
    info = _gauge(
        "webserver_info",
        "Always 1: the webserver's name and URL (password masked).",
        [*server, "name", "url"],
    )
    for reading in snapshot.readings:
        webserver = reading.webserver
        webserver_id = str(webserver.id)
        key = [webserver_id]
        if reading.last_success is not None:
            up.add_metric(key, 1.0 if reading.last_success else 0.0)
        state = webserver.state
        for candidate in _STATES:
            health.add_metric([webserver_id, candidate.value], 1.0 if candidate is state else 0.0)
        if reading.last_latency_ms is not None:
            latency.add_metric(key, reading.last_latency_ms / 1000)
        if webserver.last_checked_at is not None:
            checked.add_metric(key, webserver.last_checked_at.timestamp())
        info.add_metric([webserver_id, webserver.settings.name, display_url(webserver.settings.url)], 1.0)
    yield from (up, health, latency, checked, tls_expiry, info)


def _fleet_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    by_health = _gauge("webservers", "Webservers, by current health state.", ["health"])
    counts = dict.fromkeys(_STATES, 0)
    for reading in snapshot.readings:
        counts[reading.webserver.state] += 1
    for state, count in counts.items():
        by_health.add_metric([state.value], count)
    yield by_health
    workers = _gauge("workers_live", "Workers whose heartbeat is younger than the lease.", [])
    workers.add_metric([], snapshot.live_workers)
    yield workers
    events = _gauge("events", "Events stored, by type.", ["type"])
    for event_type in EventType:
        events.add_metric([event_type.value], snapshot.events_by_type.get(event_type, 0))
    yield events
    deliveries = _gauge("deliveries", "Alert deliveries stored, by status.", ["status"])
    for status in DeliveryStatus:
        deliveries.add_metric([status.value], snapshot.deliveries_by_status.get(status, 0))
    yield deliveries
