"""Use cases behind the status dashboard: the fleet overview and one server's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from healthmon.application.ports import Clock, UnitOfWork
from healthmon.application.use_cases.rollup_reads import read_pieces, uptime_window, uptimes
from healthmon.application.use_cases.webservers import require_webserver
from healthmon.domain.channels import Channel
from healthmon.domain.errors import InvalidField, WebserverNotFound
from healthmon.domain.events import RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.probe import RecordedProbe
from healthmon.domain.rollups import Granularity, Rollup, Span, plan_reads
from healthmon.domain.statistics import latency_summary
from healthmon.domain.webserver import Webserver, WebserverId

# The strip of recent results beside each server of the overview: its last 60 probes of the last
# day (a server probed less often than every 24 minutes shows fewer), so the store reads one day.
RECENT_PROBES = 60
RECENT_WINDOW = timedelta(days=1)
OVERVIEW_PAGE_SIZE = 50
MAX_SEARCH_LENGTH = 200
# The longer of the overview's two uptimes.
SUMMARY_MONTH = timedelta(days=30)
# The server page's tables: its last requests and its health timeline.
LAST_REQUESTS = 50
TIMELINE_EVENTS = 100


@dataclass(frozen=True, slots=True)
class OverviewQuery:
    """Which servers the overview shows: a health, a part of the name, and a page (from 1)."""

    health: HealthState | None = None
    search: str = ""
    page: int = 1
    page_size: int = OVERVIEW_PAGE_SIZE

    def __post_init__(self) -> None:
        if type(self.page) is not int or self.page < 1:
            raise InvalidField.single("page", "must be an integer from 1")
        if len(self.search) > MAX_SEARCH_LENGTH:
            raise InvalidField.single("q", f"must be at most {MAX_SEARCH_LENGTH} characters")


@dataclass(frozen=True, slots=True)
class Summary:
    """A server's figures beside it on the overview (None where no probe counts)."""

    uptime_24h: float | None = None
    uptime_30d: float | None = None
    p95_24h_ms: float | None = None


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """A server of the overview, whether its latest probes succeeded (newest first), and its figures."""

    webserver: Webserver
    recent: list[bool]
    summary: Summary = Summary()


@dataclass(frozen=True, slots=True)
class Overview:
    """The fleet's counts by health and one page of the servers that match the query."""

    counts: dict[HealthState, int]
    total: int
    matching: int
    page: int
    pages: int
    rows: list[OverviewRow]


class GetOverview:
    """The dashboard's overview of every server.

    - Counts by health cover the whole fleet, whatever the filter.
    - The filter keeps one health and names containing the search text (ASCII letters in any case).
    - Order: unhealthy first, then unknown, then healthy (ATTENTION_ORDER); by name, then id, within each.
    - One page of matches comes with each server's last 60 probes, its uptime over the last 24 hours
      and 30 days and its p95 latency over the last 24 hours (from the rollups and the raw probes,
      as the statistics are); a page past the last is empty.
    - The store filters, orders and counts, so a page costs the same at 10 servers or 10,000.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, query: OverviewQuery) -> Overview:
        """The counts and the asked-for page."""
        with self._uow as uow:
            counts = uow.webservers.health_counts()
            matching, shown = uow.webservers.overview(
                health=query.health,
                name_contains=query.search.strip(),
                offset=(query.page - 1) * query.page_size,
                limit=query.page_size,
            )
            ids = [webserver.id for webserver in shown]
            now = self._clock.now()
            recent = uow.probe_results.recent_outcomes(ids, limit=RECENT_PROBES, since=now - RECENT_WINDOW)
            summaries = _summaries(uow, ids, now) if ids else {}
        rows = [
            OverviewRow(webserver, recent.get(webserver.id, []), summaries[webserver.id])
            for webserver in shown
        ]
        return Overview(
            counts=counts,
            total=sum(counts.values()),
            matching=matching,
            page=query.page,
            pages=max(1, -(-matching // query.page_size)),
            rows=rows,
        )


def _summaries(uow: UnitOfWork, ids: list[WebserverId], now: datetime) -> dict[WebserverId, Summary]:
    day = uptime_window(now)
    pieces = read_pieces(uow.rollups, ids, plan_reads(day, uow.rollups.coverage(), Granularity.NONE))
    month = uptimes(uow, ids, Span(now - SUMMARY_MONTH, now))
    summaries = {}
    for webserver_id in ids:
        total = Rollup()
        for _, rollup in pieces.get(webserver_id, []):
            total.absorb(rollup)
        latency = latency_summary(total)
        summaries[webserver_id] = Summary(
            uptime_24h=total.successes / total.probes if total.probes else None,
            uptime_30d=month.get(webserver_id),
            p95_24h_ms=None if latency is None else latency.p95,
        )
    return summaries


@dataclass(frozen=True, slots=True)
class ServerPage:
    """One server as its dashboard page shows it."""

    webserver: Webserver
    last_requests: list[RecordedProbe]
    last_failures: list[RecordedProbe]
    timeline: list[RecordedEvent]
    channels: list[Channel]


class GetServerPage:
    """Everything the dashboard shows about one server.

    - Its last 50 requests (newest first), and among them those that failed.
    - Its health timeline: its newest 100 health events, newest first.
    - The enabled channels that alert on it.
    - An unknown id raises WebserverNotFound.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, webserver_id: WebserverId) -> ServerPage:
        """The server's page."""
        with self._uow as uow:
            webserver = require_webserver(uow.webservers.get(webserver_id), webserver_id)
            last = uow.probe_results.history(webserver_id, limit=LAST_REQUESTS)
            timeline = _newest_events(uow, webserver_id)
            channels = uow.channels.covering(webserver_id)
        failures = [probe for probe in last if not probe.result.success]
        return ServerPage(webserver, last, failures, timeline, channels)


def _newest_events(uow: UnitOfWork, webserver_id: WebserverId) -> list[RecordedEvent]:
    # The feed reads oldest first; a server flips rarely, so walking its events to the end is cheap.
    newest: list[RecordedEvent] = []
    after: int | None = None
    while page := uow.events.feed(after=after, webserver_id=webserver_id, limit=1000):
        newest = (newest + page)[-TIMELINE_EVENTS:]
        after = page[-1].sequence
    return newest[::-1]


class GetPublicWebserver:
    """A webserver that its owner made public (for its badges).

    - A server that is not public is reported exactly like one that does not exist: WebserverNotFound.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, webserver_id: WebserverId) -> Webserver:
        """The public webserver with this id."""
        with self._uow as uow:
            webserver = uow.webservers.get(webserver_id)
        if webserver is None or not webserver.settings.public:
            raise WebserverNotFound(webserver_id)
        return webserver


class GetPublicUptime:
    """A public webserver's uptime over the `window` before now (for its uptime badge).

    - successes / probes, None when it had no probe in the window.
    - A server that is not public is reported exactly like one that does not exist: WebserverNotFound.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, webserver_id: WebserverId, window: timedelta) -> float | None:
        """The uptime, from the rollups and the raw probes."""
        now = self._clock.now()
        with self._uow as uow:
            webserver = uow.webservers.get(webserver_id)
            if webserver is None or not webserver.settings.public:
                raise WebserverNotFound(webserver_id)
            return uptimes(uow, [webserver_id], Span(now - window, now))[webserver_id]
