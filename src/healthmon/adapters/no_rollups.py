"""Rollups as retention sees them while no rollup store is connected: nothing is covered, nothing to prune."""

from __future__ import annotations

from datetime import datetime

from healthmon.application.ports import Rollups


class NoRollups(Rollups):
    """No probe is proven to be in any rollup, so retention keeps every probe; there are no hourly rows."""

    def rolled_up_until(self) -> datetime | None:
        return None

    def prune_hourly(self, before: datetime) -> int:
        return 0


__all__ = ["NoRollups"]
