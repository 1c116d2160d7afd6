"""What the dashboard's overview shows, as JSON for its script and as values for its template."""

from __future__ import annotations

from datetime import datetime

import msgspec

from healthmon.application.use_cases.dashboard import Overview, OverviewRow
from healthmon.domain.health import HealthState


class HealthCountsOut(msgspec.Struct, kw_only=True):
    """How many servers of the whole fleet are in each state."""

    healthy: int
    unhealthy: int
    unknown: int


class OverviewRowOut(msgspec.Struct, kw_only=True):
    """One server of the overview: who it is, its health since when, its figures and its recent results.

    Uptimes are fractions from 0 to 1 and p95 is in milliseconds, each null when no probe counts.
    """

    id: int
    name: str
    url: str
    health: HealthState
    health_changed_at: datetime | None
    last_checked_at: datetime | None
    uptime_24h: float | None
    uptime_30d: float | None
    p95_24h_ms: float | None
    recent: list[bool]

    @classmethod
    def from_row(cls, row: OverviewRow) -> OverviewRowOut:
        """The view of one overview row; `recent` runs oldest first, true for a success."""
        webserver = row.webserver
        return cls(
            id=webserver.id,
            name=webserver.settings.name,
            url=webserver.settings.display_url,
            health=webserver.state,
            health_changed_at=webserver.health_changed_at,
            last_checked_at=webserver.last_checked_at,
            uptime_24h=row.summary.uptime_24h,
            uptime_30d=row.summary.uptime_30d,
            p95_24h_ms=row.summary.p95_24h_ms,
            recent=row.recent[::-1],
        )


class OverviewOut(msgspec.Struct, kw_only=True):
    """The fleet's counts by health and one page of the servers matching the filter (at most 50)."""

    counts: HealthCountsOut
    total: int
    matching: int
    page: int
    pages: int
    items: list[OverviewRowOut]

    @classmethod
    def from_overview(cls, overview: Overview) -> OverviewOut:
        """The view of an overview."""
        counts = overview.counts
        return cls(
            counts=HealthCountsOut(**{state.value: counts[state] for state in HealthState}),
            total=overview.total,
            matching=overview.matching,
            page=overview.page,
            pages=overview.pages,
            items=[OverviewRowOut.from_row(row) for row in overview.rows],
        )
