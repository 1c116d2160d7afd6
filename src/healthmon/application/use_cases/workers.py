"""Use cases about the worker processes that share the probing."""

from __future__ import annotations

from datetime import timedelta

from healthmon.application.ports import UnitOfWork, WorkerInfo


class ListWorkers:
    """List the live workers.

    - A worker is live while its heartbeat is younger than the lease; a stopped worker leaves at once,
      a dead one once its lease has expired.
    - Oldest first, by start time.
    """

    def __init__(self, uow: UnitOfWork, lease_seconds: float) -> None:
        self._uow = uow
        self._ttl = timedelta(seconds=lease_seconds)

    def execute(self) -> list[WorkerInfo]:
        """Every live worker with what it last reported."""
        with self._uow as uow:
            return uow.workers.live(self._ttl)
