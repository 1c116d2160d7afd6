"""Response bodies of the statistics endpoints, and the CSV rows of GET /stats?format=csv."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import msgspec

from healthmon.application.use_cases.statistics import StatsPage
from healthmon.domain.statistics import HealthSeconds, LatencySummary, WindowStats
from healthmon.domain.webserver import Webserver

# Latencies are shown to the microsecond, durations to the millisecond.
_LATENCY_DIGITS: Final = 3
_SECONDS_DIGITS: Final = 3


class LatencyOut(msgspec.Struct, kw_only=True):
    """Latency of the probes that got a response, in ms: percentiles within 1 % (from rollups), max exact."""

    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def from_domain(cls, latency: LatencySummary | None) -> LatencyOut | None:
        """The API view of a latency summary (None when no probe got a response)."""
        if latency is None:
            return None
        return cls(
            **{name: round(getattr(latency, name), _LATENCY_DIGITS) for name in ("p50", "p95", "p99", "max")}
        )


class HealthSecondsOut(msgspec.Struct, kw_only=True):
    """Seconds spent in each health state inside the window, since the webserver was registered, until now."""

    healthy: float
    unhealthy: float
    unknown: float

    @classmethod
    def from_domain(cls, seconds: HealthSeconds) -> HealthSecondsOut:
        """The API view of time spent per state."""
        return cls(
            healthy=round(seconds.healthy, _SECONDS_DIGITS),
            unhealthy=round(seconds.unhealthy, _SECONDS_DIGITS),
            unknown=round(seconds.unknown, _SECONDS_DIGITS),
        )


class StatsBucketOut(msgspec.Struct, kw_only=True):
    """The statistics of one window or bucket: from <= started_at < to."""

    from_: datetime = msgspec.field(name="from")
    to: datetime
    probes: int
    successes: int
    uptime: float | None
    latency_ms: LatencyOut | None
    health_seconds: HealthSecondsOut
    incidents: int

    @classmethod
    def fields_of(cls, stats: WindowStats) -> dict[str, object]:
        """The fields every statistics body shares."""
        return {
            "from_": stats.start,
            "to": stats.end,
            "probes": stats.probes,
            "successes": stats.successes,
            "uptime": stats.uptime,
            "latency_ms": LatencyOut.from_domain(stats.latency),
            "health_seconds": HealthSecondsOut.from_domain(stats.health),
            "incidents": stats.incidents,
        }


class StatsOut(StatsBucketOut, kw_only=True):
    """A webserver's statistics over a window; `buckets` splits it into UTC hours or days (empty for none)."""

    buckets: list[StatsBucketOut]

    @classmethod
    def from_domain(cls, stats: WindowStats) -> StatsOut:
        """The API view of a window's statistics."""
        return cls(
            **cls.fields_of(stats),  # type: ignore[arg-type]
            buckets=[StatsBucketOut(**StatsBucketOut.fields_of(bucket)) for bucket in stats.buckets],  # type: ignore[arg-type]
        )


class WebserverStatsOut(msgspec.Struct, kw_only=True):
    """One webserver's statistics over the window (latency percentiles in ms, null when no response)."""

    id: int
    name: str
    url: str
    probes: int
    successes: int
    uptime: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    incidents: int
    health_seconds: HealthSecondsOut

    @classmethod
    def from_domain(cls, webserver: Webserver, stats: WindowStats) -> WebserverStatsOut:
        """The API view of one row of GET /stats."""
        latency = LatencyOut.from_domain(stats.latency)
        return cls(
            id=webserver.id,
            name=webserver.settings.name,
            url=webserver.settings.display_url,
            probes=stats.probes,
            successes=stats.successes,
            uptime=stats.uptime,
            p50=None if latency is None else latency.p50,
            p95=None if latency is None else latency.p95,
            p99=None if latency is None else latency.p99,
            incidents=stats.incidents,
            health_seconds=HealthSecondsOut.from_domain(stats.health),
        )


class WebserverStatsPageOut(msgspec.Struct, kw_only=True):
    """One page of webservers with their statistics over the window; next_cursor is null on the last page."""

    from_: datetime = msgspec.field(name="from")
    to: datetime
    items: list[WebserverStatsOut]
    next_cursor: str | None

    @classmethod
    def rows_of(cls, page: StatsPage) -> list[WebserverStatsOut]:
        """The rows of a page."""
        return [WebserverStatsOut.from_domain(webserver, stats) for webserver, stats in page.items]


CSV_COLUMNS: Final = (
    "id",
    "name",
    "url",
    "probes",
    "successes",
    "uptime",
    "p50",
    "p95",
    "p99",
    "incidents",
    "healthy_seconds",
    "unhealthy_seconds",
    "unknown_seconds",
)
# A spreadsheet reads a cell that starts with one of these as a formula; such text gets a leading
# apostrophe (OWASP's advice on CSV injection), which spreadsheets hide.
_FORMULA_STARTS: Final = ("=", "+", "-", "@")


def _text_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)


def csv_lines(rows: Iterable[WebserverStatsOut], *, header: bool) -> str:
    """CSV text (RFC 4180, CRLF line ends) of these rows, after the header line when asked; null is empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        seconds = row.health_seconds
        writer.writerow(
            (
                row.id,
                _text_cell(row.name),
                _text_cell(row.url),
                row.probes,
                row.successes,
                _cell(row.uptime),
                _cell(row.p50),
                _cell(row.p95),
                _cell(row.p99),
                row.incidents,
                _cell(seconds.healthy),
                _cell(seconds.unhealthy),
                _cell(seconds.unknown),
            )
        )
    return buffer.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "HealthSecondsOut",
    "LatencyOut",
    "StatsBucketOut",
    "StatsOut",
    "WebserverStatsOut",
    "WebserverStatsPageOut",
    "csv_lines",
]
