"""Use cases that answer "what was its uptime and latency?": for one webserver, and for every one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from healthmon.application.ports import Clock, UnitOfWork
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, check_limit
from healthmon.application.use_cases.rollup_reads import read_pieces
from healthmon.application.use_cases.webservers import require_webserver
from healthmon.domain.rollups import Granularity, Span, plan_reads
from healthmon.domain.statistics import HealthHistory, WindowStats, stats_window, window_stats
from healthmon.domain.webserver import Webserver, WebserverId


def _stats_of(
    uow: UnitOfWork,
    webservers: list[Webserver],
    window: Span,
    granularity: Granularity,
    now: datetime,
) -> list[WindowStats]:
    ids = [webserver.id for webserver in webservers]
    plan = plan_reads(window, uow.rollups.coverage(), granularity)
    pieces = read_pieces(uow.rollups, ids, plan)
    changes = uow.events.health_changes(ids, window)
    return [
        window_stats(
            window,
            granularity,
            pieces.get(webserver.id, []),
            HealthHistory.of(changes.get(webserver.id, []), window.start),
            created_at=webserver.created_at,
            now=now,
        )
        for webserver in webservers
    ]


class GetWebserverStats:
    """One webserver's statistics over a window, optionally split into UTC hours or days.

    - The window: `end` defaults to now, `start` to end - 24 h; both need a timezone; start < end,
      at most 400 days (InvalidField otherwise).
    - Whole days come from daily rollups, other whole hours from hourly ones, the rest from the raw
      probes: percentiles within 1 %, counts and max exact.
    - An unknown webserver raises WebserverNotFound.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(
        self,
        webserver_id: WebserverId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        granularity: Granularity = Granularity.NONE,
    ) -> WindowStats:
        """The statistics of the window (and of each bucket)."""
        now = self._clock.now()
        window = stats_window(start, end, now)
        with self._uow as uow:
            webserver = require_webserver(uow.webservers.get(webserver_id), webserver_id)
            [stats] = _stats_of(uow, [webserver], window, granularity, now)
        return stats


@dataclass(frozen=True, slots=True)
class StatsPage:
    """One page of webservers with their statistics over one window; next_cursor None on the last page."""

    window: Span
    items: list[tuple[Webserver, WindowStats]]
    next_cursor: WebserverId | None


class ListWebserverStats:
    """Every webserver's statistics over one window, in id order, one page at a time.

    - The window follows GetWebserverStats' rules; it is not split into buckets.
    - Keyset pagination by id, as ListWebservers.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def window(self, start: datetime | None, end: datetime | None) -> Span:
        """The window these bounds ask for, checked (InvalidField) before any page is read."""
        return stats_window(start, end, self._clock.now())

    def execute(
        self, window: Span, *, after: WebserverId | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> StatsPage:
        """One page of webservers with ids greater than `after`, with their statistics."""
        check_limit(limit)
        now = self._clock.now()
        with self._uow as uow:
            rows = uow.webservers.list(after=after, limit=limit + 1)
            items = rows[:limit]
            stats = _stats_of(uow, items, window, Granularity.NONE, now) if items else []
        return StatsPage(
            window, list(zip(items, stats, strict=True)), items[-1].id if len(rows) > limit else None
        )


__all__ = ["GetWebserverStats", "ListWebserverStats", "StatsPage"]
