"""The fleet for Prometheus: every webserver's series, and the fleet's counts, from a FleetSnapshot.

Every per-webserver series carries `webserver_id` and nothing else that grows without bound: the
name and the (password-masked) URL appear on `healthmon_webserver_info` only, and no error message
appears anywhere. A webserver has at most 8 series: up, health (one per state), last latency, last
check, TLS expiry and info.

The per-webserver lines are written here rather than through prometheus-client's metric families:
at 10,000 webservers (70,000 series) its generic path takes about 0.75 s, these lines 0.05 s. They
are gauges without timestamps, whose lines read the same in the Prometheus text format and in
OpenMetrics (values as Python writes floats, which both parse); tests read both back with
prometheus-client's own parsers. The few fleet-wide families
go through prometheus-client (FleetCollector).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class WebserverFamily:
    """One per-webserver gauge: its full name, its help text and its labels (webserver_id first)."""

    name: str
    help: str
    labels: tuple[str, ...] = ("webserver_id",)


UP: Final = WebserverFamily(
    PREFIX + "webserver_up", "1 when the webserver's last probe succeeded, 0 when it failed."
)
HEALTH: Final = WebserverFamily(
    PREFIX + "webserver_health",
    "1 for the webserver's current health state, 0 for the others.",
    ("webserver_id", "state"),
)
LAST_LATENCY: Final = WebserverFamily(
    PREFIX + "webserver_last_latency_seconds", "Latency of the webserver's last probe."
)
LAST_CHECK: Final = WebserverFamily(
    PREFIX + "webserver_last_check_timestamp_seconds", "When the webserver was last probed (Unix time)."
)
TLS_EXPIRY: Final = WebserverFamily(
    PREFIX + "webserver_tls_expiry_timestamp_seconds",
    "When the webserver's TLS certificate expires (Unix time), once a probe has seen it.",
)
INFO: Final = WebserverFamily(
    PREFIX + "webserver_info",
    "Always 1: the webserver's name and URL (password masked).",
    ("webserver_id", "name", "url"),
)
WEBSERVER_FAMILIES: Final = (UP, HEALTH, LAST_LATENCY, LAST_CHECK, TLS_EXPIRY, INFO)

_ONE, _ZERO = "1.0", "0.0"


def webserver_series(snapshot: FleetSnapshot) -> bytes:
    """Every webserver's lines, family by family (each under its HELP and TYPE), in id order."""
    lines: dict[WebserverFamily, list[str]] = {family: [] for family in WEBSERVER_FAMILIES}
    up, health, latency, checked, tls_expiry, info = (lines[family] for family in WEBSERVER_FAMILIES)
    for reading in snapshot.readings:
        webserver = reading.webserver
        key = f'{{webserver_id="{webserver.id}"'
        if reading.last_success is not None:
            up.append(f"{UP.name}{key}}} {_ONE if reading.last_success else _ZERO}\n")
        state = webserver.state
        health.extend(
            f'{HEALTH.name}{key},state="{candidate.value}"}} {_ONE if candidate is state else _ZERO}\n'
            for candidate in _STATES
        )
        if reading.last_latency_ms is not None:
            latency.append(f"{LAST_LATENCY.name}{key}}} {reading.last_latency_ms / 1000!r}\n")
        if webserver.last_checked_at is not None:
            checked.append(f"{LAST_CHECK.name}{key}}} {webserver.last_checked_at.timestamp()!r}\n")
        if webserver.tls_expires_at is not None:
            tls_expiry.append(f"{TLS_EXPIRY.name}{key}}} {webserver.tls_expires_at.timestamp()!r}\n")
        name, url = _escaped(webserver.settings.name), _escaped(display_url(webserver.settings.url))
        info.append(f'{INFO.name}{key},name="{name}",url="{url}"}} {_ONE}\n')
    text = "".join(
        f"# HELP {family.name} {family.help}\n# TYPE {family.name} gauge\n{''.join(lines[family])}"
        for family in WEBSERVER_FAMILIES
    )
    return text.encode("utf-8")


def _escaped(value: str) -> str:
    # Label values escape the backslash, the double quote and the line feed, in both formats.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class FleetCollector(Collector):
    """The fleet-wide families of one snapshot: webservers by health, live workers, events, deliveries.

    It keeps the counts only, never the snapshot's readings, so a cached page holds no webserver.
    """

    def __init__(self, snapshot: FleetSnapshot) -> None:
        self._by_health = dict.fromkeys(_STATES, 0)
        for reading in snapshot.readings:
            self._by_health[reading.webserver.state] += 1
        self._live_workers = snapshot.live_workers
        self._events = {event_type: snapshot.events_by_type.get(event_type, 0) for event_type in EventType}
        self._deliveries = {status: snapshot.deliveries_by_status.get(status, 0) for status in DeliveryStatus}

    def collect(self) -> Iterator[Metric]:
        by_health = GaugeMetricFamily(
            PREFIX + "webservers", "Webservers, by current health state.", labels=["health"]
        )
        for state, count in self._by_health.items():
            by_health.add_metric([state.value], count)
        yield by_health
        yield GaugeMetricFamily(
            PREFIX + "workers_live",
            "Workers whose heartbeat is younger than the lease.",
            value=self._live_workers,
        )
        events = GaugeMetricFamily(PREFIX + "events", "Events stored, by type.", labels=["type"])
        for event_type, count in self._events.items():
            events.add_metric([event_type.value], count)
        yield events
        deliveries = GaugeMetricFamily(
            PREFIX + "deliveries", "Alert deliveries stored, by status.", labels=["status"]
        )
        for status, count in self._deliveries.items():
            deliveries.add_metric([status.value], count)
        yield deliveries
