"""Reading rollups for a window: the pieces a read plan names, and the uptime of many webservers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Final

from healthmon.application.ports import RollupPieces, RollupRepository, UnitOfWork
from healthmon.domain.rollups import Granularity, ReadPlan, Span, plan_reads
from healthmon.domain.webserver import WebserverId

UPTIME_WINDOW: Final = timedelta(hours=24)


def read_pieces(
    rollups: RollupRepository,
    webserver_ids: Collection[WebserverId],
    plan: ReadPlan,
    *,
    latency: bool = True,
) -> dict[WebserverId, RollupPieces]:
    """Every rollup piece the plan names, per webserver: weekly, daily, hourly, then raw."""
    pieces: dict[WebserverId, RollupPieces] = defaultdict(list)
    reads = (
        (rollups.weekly, plan.weekly),
        (rollups.daily, plan.daily),
        (rollups.hourly, plan.hourly),
        (rollups.raw, plan.raw),
    )
    for read, spans in reads:
        for span in spans:
            for webserver_id, found in read(webserver_ids, span, latency=latency).items():
                pieces[webserver_id].extend(found)
    return pieces


def uptimes(
    uow: UnitOfWork, webserver_ids: Collection[WebserverId], window: Span
) -> dict[WebserverId, float | None]:
    """Each webserver's successes / probes in the window (None when it had no probe); counts only."""
    if not webserver_ids:
        return {}
    plan = plan_reads(window, uow.rollups.coverage(), Granularity.NONE)
    totals = uow.rollups.totals(webserver_ids, plan)
    result: dict[WebserverId, float | None] = {}
    for webserver_id in webserver_ids:
        probes, successes = totals.get(webserver_id, (0, 0))
        result[webserver_id] = successes / probes if probes else None
    return result


def uptime_window(now: datetime) -> Span:
    """The window of uptime_24h: the 24 hours before now."""
    return Span(now - UPTIME_WINDOW, now)


__all__ = ["UPTIME_WINDOW", "read_pieces", "uptime_window", "uptimes"]
