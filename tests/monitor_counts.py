"""The monitor's figures as tests read them, from the in-memory metrics the monitor counts through."""

from __future__ import annotations

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.application.monitoring.metrics import (
    PROBES_ABANDONED,
    PROBES_FINISHED,
    PROBES_SKIPPED,
    PROBES_STARTED,
    PROBES_WAITING,
    RESULTS_DROPPED,
    RESULTS_STORED,
    SERVERS_HELD,
    STORAGE_AVAILABLE,
)


class MonitorCounts:
    """Read-only names for the figures the monitoring tests assert on."""

    def __init__(self, metrics: InMemoryMetrics) -> None:
        self.metrics = metrics

    @property
    def servers(self) -> int:
        return int(self.metrics.value(SERVERS_HELD))

    @property
    def probes_started(self) -> int:
        return int(self.metrics.value(PROBES_STARTED))

    @property
    def probes_finished(self) -> int:
        return int(self.metrics.value(PROBES_FINISHED))

    @property
    def probes_skipped(self) -> int:
        return int(self.metrics.value(PROBES_SKIPPED))

    @property
    def probes_waiting(self) -> int:
        return int(self.metrics.value(PROBES_WAITING))

    @property
    def probes_abandoned(self) -> int:
        return int(self.metrics.value(PROBES_ABANDONED))

    @property
    def results_stored(self) -> int:
        return int(self.metrics.value(RESULTS_STORED))

    @property
    def results_dropped(self) -> int:
        """Results dropped because the buffer overflowed."""
        return int(self.metrics.value(RESULTS_DROPPED, "buffer_full"))

    @property
    def results_fenced(self) -> int:
        """Results dropped because the server changed hands after they were taken."""
        return int(self.metrics.value(RESULTS_DROPPED, "fenced"))

    @property
    def results_lost_at_shutdown(self) -> int:
        return int(self.metrics.value(RESULTS_DROPPED, "shutdown"))

    @property
    def storage_available(self) -> bool:
        return self.metrics.value(STORAGE_AVAILABLE) == 1
