"""The periodic use cases that keep the history bounded: partitions made ahead, expired history removed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from healthmon.application.ports import Clock, HistoryStorage, HistoryUsage, PruneOutcome, Rollups

logger = logging.getLogger(__name__)

# Partitions exist this many days ahead, so a day's probes never wait for its partition.
DAYS_AHEAD = 7


class PrepareHistoryPartitions:
    """Create the history's daily partitions ahead of time.

    - Every day from today to DAYS_AHEAD days ahead (UTC) has its partition; a no-op where the
      store does not partition.
    """

    def __init__(self, storage: HistoryStorage, clock: Clock, days_ahead: int = DAYS_AHEAD) -> None:
        self._storage = storage
        self._clock = clock
        self._days_ahead = days_ahead

    def execute(self) -> int:
        """Create the missing partitions; returns how many."""
        today = self._clock.now().date()
        through = today + timedelta(days=self._days_ahead)
        created = self._storage.prepare(today, through)
        if created:
            logger.info("history: created %d daily partitions, through %s", created, through)
        return created


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How long raw probes and hourly rollups are kept."""

    retention_days: int = 90
    rollup_retention_days: int = 400

    def __post_init__(self) -> None:
        if self.retention_days < 1 or self.rollup_retention_days < 1:
            raise ValueError("retention must be at least one day")


@dataclass(frozen=True, slots=True)
class RetentionOutcome:
    """What one pruning removed, and the instant it removed up to (None: nothing was eligible)."""

    before: datetime | None
    probes: PruneOutcome
    hourly_rollups: int


class PruneHistory:
    """Remove raw probes older than the retention, and hourly rollups older than theirs.

    - A probe is removed only once it is both older than retention_days and covered by the
      rollups (started before their watermark): statistics never lose a probe to retention.
    - Without a watermark (no rollups yet, or none proven) no probe is removed.
    - Hourly rollups older than rollup_retention_days are removed; daily rollups are kept until
      their webserver is deleted, health events for good.
    """

    def __init__(
        self, storage: HistoryStorage, rollups: Rollups, clock: Clock, settings: RetentionSettings
    ) -> None:
        self._storage = storage
        self._rollups = rollups
        self._clock = clock
        self._settings = settings

    def execute(self) -> RetentionOutcome:
        """Prune once; returns what went."""
        now = self._clock.now()
        expired = now - timedelta(days=self._settings.retention_days)
        covered = self._rollups.rolled_up_until()
        pruned = PruneOutcome(rows=0)
        before: datetime | None = None
        if covered is None:
            logger.info("history: nothing pruned, as no probe is known to be in the rollups yet")
        else:
            before = min(expired, covered)
            pruned = self._storage.prune(before)
            if pruned.rows or pruned.partitions:
                logger.info(
                    "history: pruned %d probes (%d daily partitions) that started before %s",
                    pruned.rows,
                    pruned.partitions,
                    before.isoformat(),
                )
        hourly = self._rollups.prune_hourly(now - timedelta(days=self._settings.rollup_retention_days))
        if hourly:
            logger.info("history: pruned %d hourly rollups", hourly)
        return RetentionOutcome(before=before, probes=pruned, hourly_rollups=hourly)


@dataclass(frozen=True, slots=True)
class StorageReport:
    """The history's usage now, and how long probes are kept."""

    usage: HistoryUsage
    retention_days: int


class GetStorageUsage:
    """Report how much history is stored: rows, bytes, the oldest probe kept, and the retention."""

    def __init__(self, storage: HistoryStorage, settings: RetentionSettings) -> None:
        self._storage = storage
        self._settings = settings

    def execute(self) -> StorageReport:
        """The report now."""
        return StorageReport(self._storage.usage(), self._settings.retention_days)


__all__ = [
    "DAYS_AHEAD",
    "GetStorageUsage",
    "PrepareHistoryPartitions",
    "PruneHistory",
    "RetentionOutcome",
    "RetentionSettings",
]
