"""The job runner: each periodic job once per period, on one worker at a time, taken over if it dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.waiting import wait_for
from healthmon.application.ports import JobLeases

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A use case to run every `period`: `run` builds and executes it (blocking; it runs in a thread)."""

    name: str
    period: timedelta
    run: Callable[[], object]

    def __post_init__(self) -> None:
        if self.period <= timedelta(0):
            raise ValueError(f"job {self.name}: the period must be positive")


@dataclass(frozen=True, slots=True)
class JobSettings:
    """How the runner paces itself: how often it looks for due jobs, and how long a lease lasts."""

    poll_seconds: float = 10.0
    # A dead holder's job is taken over this long after its last renewal, at most.
    lease_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or self.lease_seconds <= 0:
            raise ValueError("poll_seconds and lease_seconds must be positive")


@dataclass(slots=True)
class JobStats:
    """What the runner did, for logs and tests."""

    runs: int = 0
    failures: int = 0
    leases_lost: int = 0


class RunPeriodicJobs:
    """Run each job once per period on whichever worker takes its lease.

    - A job runs on one worker at a time: the runner takes the job's lease first (only when the
      job is due, its last run having ended a period ago) and lets it go after.
    - While the job runs its lease is renewed every third of its length; a worker that dies
      mid-run stops renewing, and once the lease expires the job is taken (and run) by another.
    - A job that fails is logged and counts as run: it runs again a period later, not at once.
    - A store outage skips the round; the jobs are tried again at the next poll.
    - Stopping: no new job starts; a running one is waited for (jobs are short transactions).
    """

    def __init__(
        self,
        jobs: Sequence[PeriodicJob],
        leases: JobLeases,
        worker_id: str,
        settings: JobSettings | None = None,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"two periodic jobs share a name: {names}")
        self._jobs = tuple(jobs)
        self._leases = leases
        self._worker_id = worker_id
        self.settings = settings or JobSettings()
        self.stats = JobStats()

    async def run(self, stop: asyncio.Event) -> JobStats:
        """Run due jobs until `stop` is set; return the counters."""
        while not stop.is_set():
            for job in self._jobs:
                if stop.is_set():
                    break
                await self.run_if_due(job)
            await wait_for(stop, self.settings.poll_seconds)
        return self.stats

    async def run_if_due(self, job: PeriodicJob) -> bool:
        """Run the job here if it is due and its lease is free; whether it ran."""
        lease = timedelta(seconds=self.settings.lease_seconds)
        try:
            taken = await asyncio.to_thread(
                self._leases.take, job.name, self._worker_id, period=job.period, lease=lease
            )
        except StorageUnavailable as exc:
            logger.debug("job %s: not taken, the store is unavailable: %s", job.name, exc)
            return False
        if not taken:
            return False
        logger.debug("job %s: started", job.name)
        running = asyncio.ensure_future(asyncio.to_thread(job.run))
        keeper = asyncio.create_task(self._keep_lease(job, lease, running))
        try:
            await asyncio.wait([running])
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        self.stats.runs += 1
        if running.exception() is not None:
            self.stats.failures += 1
            logger.error(
                "job %s failed; it runs again in %s", job.name, job.period, exc_info=running.exception()
            )
        try:
            await asyncio.to_thread(self._leases.finish, job.name, self._worker_id)
        except StorageUnavailable as exc:
            # The lease expires by itself; the job is due again a period after its last noted end.
            logger.warning("job %s: its end could not be noted: %s", job.name, exc)
        return True

    async def _keep_lease(self, job: PeriodicJob, lease: timedelta, running: asyncio.Future[object]) -> None:
        every = lease.total_seconds() / 3
        while not running.done():
            await asyncio.wait([running], timeout=every)
            if running.done():
                return
            try:
                kept = await asyncio.to_thread(self._leases.renew, job.name, self._worker_id, lease)
            except StorageUnavailable as exc:
                logger.warning("job %s: its lease could not be renewed: %s", job.name, exc)
                continue
            if not kept:
                # Another worker may run it too now; the jobs are written to be safe against that.
                self.stats.leases_lost += 1
                logger.warning("job %s: lease lost while running", job.name)
                return


__all__ = ["JobSettings", "JobStats", "PeriodicJob", "RunPeriodicJobs"]
