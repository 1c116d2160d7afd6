"""The rollups as the periodic jobs see them: the rollup job on the clock, its watermark for retention."""

from __future__ import annotations

from datetime import datetime

from healthmon.application.ports import Clock, Rollups, UnitOfWork
from healthmon.application.use_cases.rollups import RollUpHistory, RollupOutcome


class RollUpSettled:
    """Roll up, on the clock's time, whatever history has settled (the rollup job's one call)."""

    def __init__(self, roll_up: RollUpHistory, clock: Clock) -> None:
        self._roll_up = roll_up
        self._clock = clock

    def execute(self) -> RollupOutcome:
        """One run of the rollup job."""
        return self._roll_up.run(self._clock.now())


class StoredRollups(Rollups):
    """The rollups in the store, each call its own unit of work.

    - Every probe that started before the earliest hour still marked for rolling up is in the
      hourly rollups; with no hour marked, every stored probe is, so the watermark is now.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def rolled_up_until(self) -> datetime | None:
        """The instant before which every stored probe is in the hourly rollups."""
        now = self._clock.now()
        with self._uow as uow:
            marked = uow.rollups.rolled_up_until()
        return now if marked is None else min(marked, now)

    def prune_hourly(self, before: datetime) -> int:
        """Delete the hourly rollups of hours that started before `before`, in one transaction."""
        with self._uow as uow:
            pruned = uow.rollups.prune_hourly(before)
            uow.commit()
        return pruned


__all__ = ["RollUpSettled", "StoredRollups"]
