"""The scrape page: the fleet, read from the store at most every 15 s, and this process's own metrics.

The fleet part is the expensive one (a read of every webserver and a line per series): it is read
once per max_age, however many scrapers ask, and concurrent scrapes of a stale page wait for one
read rather than each starting its own. Its per-webserver lines (the same in both formats) are
written once per read and kept as bytes: the snapshot's webserver objects are dropped at once, so
they never weigh on the collector's full collections for the next 15 s. The process's own metrics
(the worker's, when it runs here) are few and rendered fresh on every scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from healthmon.adapters.prometheus_fleet import FleetCollector, webserver_series
from healthmon.application.ports import Clock
from healthmon.application.use_cases.fleet import FleetSnapshot, ReadFleet

MAX_AGE_SECONDS: Final = 15.0
# The OpenMetrics exposition ends with this line; a page of two parts may end with it once only.
_EOF: Final = b"# EOF\n"


class MetricsPage:
    """Renders the scrape for an Accept header: Prometheus text, or OpenMetrics when asked for it."""

    def __init__(
        self,
        read_fleet: Callable[[], ReadFleet],
        clock: Clock,
        *,
        own: Collector | None = None,
        max_age_seconds: float = MAX_AGE_SECONDS,
    ) -> None:
        self._read_fleet = read_fleet
        self._clock = clock
        self._own = own
        self._max_age = timedelta(seconds=max_age_seconds)
        self._lock = threading.Lock()
        self._taken_at: datetime | None = None
        self._webservers = b""
        self._fleet = CollectorRegistry(auto_describe=False)
        self._rendered: dict[str, bytes] = {}

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The page's bytes and content type; the fleet part is at most max_age old."""
        encode, content_type = choose_encoder(accept or "")
        with self._lock:
            if self._taken_at is None or self._clock.now() - self._taken_at >= self._max_age:
                self._refresh(self._read_fleet().execute())
            fleet = self._rendered.get(content_type)
            if fleet is None:
                # The encoder's part comes last: in OpenMetrics it ends the page with # EOF.
                fleet = self._rendered[content_type] = self._webservers + encode(self._fleet)
        if self._own is None:
            return fleet, content_type
        return fleet.removesuffix(_EOF) + encode(self._own), content_type

    def _refresh(self, snapshot: FleetSnapshot) -> None:
        self._taken_at = snapshot.taken_at
        self._webservers = webserver_series(snapshot)
        self._fleet = fleet_registry(snapshot)
        self._rendered = {}


def fleet_registry(snapshot: FleetSnapshot) -> CollectorRegistry:
    """A registry of the snapshot's fleet-wide families alone."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(snapshot))
    return registry


def render_fleet(snapshot: FleetSnapshot, encode: Callable[[Collector], bytes]) -> bytes:
    """The snapshot in the encoder's format: every webserver's lines, then the fleet-wide families."""
    return webserver_series(snapshot) + encode(fleet_registry(snapshot))
