"""Whether the store answers, as the monitor last found it: each change logged once, and counted."""

from __future__ import annotations

import logging

from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.metrics import STORAGE_AVAILABLE
from healthmon.application.ports import Metrics

logger = logging.getLogger(__name__)


class StorageStatus:
    """Starts reachable; an outage is noted by whoever meets it, the recovery by a stored batch."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.available = True
        metrics.set(STORAGE_AVAILABLE, 1)

    def outage(self, exc: StorageUnavailable) -> None:
        """The store did not answer: log it at the first failure only."""
        if self.available:
            self.available = False
            self._metrics.set(STORAGE_AVAILABLE, 0)
            logger.warning("%s; probing goes on and results wait in memory", exc)

    def reachable(self, queued: int) -> None:
        """The store took a batch: log the recovery if it was out."""
        if not self.available:
            self.available = True
            self._metrics.set(STORAGE_AVAILABLE, 1)
            logger.warning("database reachable again; %d results still queued", queued)
