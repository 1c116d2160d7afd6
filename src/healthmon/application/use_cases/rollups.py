"""The periodic job that rolls the probe history up into hourly and daily rollups, late probes included."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from healthmon.application.ports import UnitOfWork
from healthmon.domain.rollups import DAY, HOUR, WEEK, Rollup, Span, floor_to
from healthmon.domain.webserver import WebserverId

logger = logging.getLogger(__name__)

# An hour is rolled up once it ended this long ago: probes that started in it (up to 60 s long,
# written within a second or two) have landed by then, so it is rarely rolled up twice.
SETTLE: Final = timedelta(minutes=2)
# Hours and days rolled up per run at most, so one run after a long pause stays bounded.
MAX_PER_RUN: Final = 500


@dataclass(frozen=True, slots=True)
class RollupOutcome:
    """What one run did: hours, days and weeks rolled up, and whether marked ones were left for later."""

    hours: int
    days: int
    more: bool
    weeks: int = 0


@dataclass(frozen=True, slots=True)
class _Weeks:
    weeks: int
    more: bool


class RollUpHistory:
    """Roll marked hours up from the raw probes, then rebuild the daily rollups of marked days.

    - An hour is rolled up once it ended SETTLE ago: all of its probes are read again and its
      hourly rollups replaced, so probes written late (and marking their hour again) are counted.
    - Each hour is one transaction: its mark is taken off first, which waits for writers still
      marking it, so the raw rows read afterwards include every probe whose mark was taken off.
    - A day is rebuilt from its 24 hourly rollups once it ended SETTLE ago and none of its hours
      is still marked; rolling up an hour marks its day. A week (Monday to Monday, UTC) is rebuilt
      from its 7 daily rollups likewise; rebuilding a day marks its week.
    - Run it on one worker at a time (the job runner's lease); a run that dies loses nothing:
      marks are taken off only in the transaction that writes the rollups.
    """

    def __init__(self, uow: UnitOfWork, *, max_per_run: int = MAX_PER_RUN) -> None:
        self._uow = uow
        self._max_per_run = max_per_run

    def run(self, now: datetime) -> RollupOutcome:
        """Roll up what has settled by now."""
        settled = now - SETTLE
        with self._uow as uow:
            hours = uow.rollups.dirty_hours(ended_by=settled, limit=self._max_per_run + 1)
        for hour in hours[: self._max_per_run]:
            self._roll_up_hour(hour)
        with self._uow as uow:
            days = uow.rollups.dirty_days(ended_by=settled, limit=self._max_per_run + 1)
            pending = uow.rollups.dirty_hours(ended_by=settled, limit=1)
        # A day with an hour still marked waits for that hour (left over by the per-run cap).
        waiting = pending[0] if pending else None
        rebuilt = 0
        for day in days[: self._max_per_run]:
            if waiting is not None and waiting < day + DAY:
                break
            self._rebuild_day(day)
            rebuilt += 1
        weeks = self._rebuild_weeks(settled)
        more = len(hours) > self._max_per_run or len(days) > rebuilt or weeks.more
        rolled = min(len(hours), self._max_per_run)
        if rolled or rebuilt or weeks.weeks:
            logger.info(
                "rolled up %d hours, %d days and %d weeks%s",
                rolled,
                rebuilt,
                weeks.weeks,
                " (more to do)" if more else "",
            )
        return RollupOutcome(hours=rolled, days=rebuilt, weeks=weeks.weeks, more=more)

    def _rebuild_weeks(self, settled: datetime) -> _Weeks:
        with self._uow as uow:
            weeks = uow.rollups.dirty_weeks(ended_by=settled, limit=self._max_per_run + 1)
            coverage = uow.rollups.coverage()
        # A week with a day (or an hour) still marked waits for it.
        complete_until = coverage.daily_until
        rebuilt = 0
        for week in weeks[: self._max_per_run]:
            if complete_until is not None and complete_until < week + WEEK:
                break
            self._rebuild(week, WEEK)
            rebuilt += 1
        return _Weeks(rebuilt, len(weeks) > rebuilt)

    def _roll_up_hour(self, hour: datetime) -> None:
        with self._uow as uow:
            if not uow.rollups.unmark_hour(hour):
                return
            found = uow.rollups.raw(None, Span(hour, hour + HOUR))
            rollups: dict[WebserverId, Rollup] = {}
            for webserver_id, pieces in found.items():
                total = Rollup()
                for _, piece in pieces:
                    total.absorb(piece)
                rollups[webserver_id] = total
            uow.rollups.save_hourly(hour, rollups)
            uow.rollups.mark_day(floor_to(hour, DAY))
            uow.commit()

    def _rebuild_day(self, day: datetime) -> None:
        self._rebuild(day, DAY)

    def _rebuild(self, start: datetime, step: timedelta) -> None:
        # A day from its hours, a week from its days; a rebuilt day marks its week.
        with self._uow as uow:
            rollups = uow.rollups
            unmark, read, save = (
                (rollups.unmark_day, rollups.hourly, rollups.save_daily)
                if step == DAY
                else (rollups.unmark_week, rollups.daily, rollups.save_weekly)
            )
            if not unmark(start):
                return
            totals: dict[WebserverId, Rollup] = defaultdict(Rollup)
            for webserver_id, pieces in read(None, Span(start, start + step)).items():
                for _, piece in pieces:
                    totals[webserver_id].absorb(piece)
            save(start, totals)
            if step == DAY:
                rollups.mark_week(floor_to(start, WEEK))
            uow.commit()


__all__ = ["MAX_PER_RUN", "SETTLE", "RollUpHistory", "RollupOutcome"]
