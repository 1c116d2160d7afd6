"""The batch writer: stores buffered results with RecordProbeResults, backing off while the store is out."""

from __future__ import annotations

import asyncio
import functools
import logging

from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.metrics import RESULTS_DROPPED, RESULTS_STORED
from healthmon.application.monitoring.result_buffer import BufferedResult, ResultBuffer
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.monitoring.storage_status import StorageStatus
from healthmon.application.monitoring.waiting import wait_for
from healthmon.application.ports import Metrics
from healthmon.application.use_cases.recording import RecordOutcome, RecordProbeResults

logger = logging.getLogger(__name__)


class ResultWriter:
    """Store the buffered results in order, in batches, off the event loop.

    - A batch goes every flush_seconds, or as soon as batch_size results wait.
    - A result leaves the buffer only once stored (or found unstorable on its own), so an outage loses
      nothing but what overflows the buffer; retries back off from retry_initial_seconds to
      retry_max_seconds.
    - A batch that fails for another reason is retried one result at a time; a result that still fails
      is logged and dropped.
    - Each result goes with the lease epoch its probe started under: those of an epoch that has moved
      on (another worker took the server meanwhile) are dropped by the store, counted, and logged in
      one line once the backlog is written.
    - Once closed, it writes until the buffer is empty or the deadline passes, then returns.
    """

    def __init__(
        self,
        record: RecordProbeResults,
        buffer: ResultBuffer,
        metrics: Metrics,
        storage: StorageStatus,
        settings: MonitorSettings,
    ) -> None:
        self._record = record
        self._buffer = buffer
        self._metrics = metrics
        self._storage = storage
        self._settings = settings
        self._ready = asyncio.Event()
        # Set when closing: the loop time after which the writer gives up on a failing store.
        self._deadline: float | None = None
        self._reported_drops = 0
        self._unreported_fenced = 0
        self.stored = 0
        self.lost = 0

    def batch_ready(self) -> None:
        """A full batch waits: write it now rather than at the next flush."""
        self._ready.set()

    def close(self, deadline: float) -> None:
        """Write everything that waits, until the loop time `deadline`, then stop."""
        self._deadline = deadline
        self._ready.set()

    async def run(self) -> None:
        """Write until closed and flushed (or out of time)."""
        try:
            await self._write_until_closed()
        finally:
            self._log_drops()

    async def _write_until_closed(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self._settings
        backoff = settings.retry_initial_seconds
        while True:
            if self._deadline is None and len(self._buffer) < settings.batch_size:
                await wait_for(self._ready, settings.flush_seconds)
            self._ready.clear()
            while self._buffer:
                if await self._write_batch():
                    backoff = settings.retry_initial_seconds
                    if self._deadline is None and len(self._buffer) < settings.batch_size:
                        break
                    continue
                pause = backoff
                if self._deadline is not None:
                    pause = min(pause, self._deadline - loop.time())
                    if pause <= 0:
                        self.lost = len(self._buffer)
                        self._metrics.add(RESULTS_DROPPED, self.lost, "shutdown")
                        logger.error("stopping with %d results that the database did not take", self.lost)
                        return
                # Wake early when closing begins, so the shutdown deadline is honoured.
                await wait_for(self._ready, pause)
                self._ready.clear()
                backoff = min(backoff * 2, settings.retry_max_seconds)
            self._log_drops()
            if self._deadline is not None:
                return

    async def _write_batch(self) -> bool:
        entries = self._buffer.peek(self._settings.batch_size)
        batch = [entry.result for entry in entries]
        epochs = [entry.epoch for entry in entries]
        try:
            outcome = await asyncio.to_thread(functools.partial(self._record.execute, batch, epochs=epochs))
        except StorageUnavailable as exc:
            self._storage.outage(exc)
            return False
        except Exception:
            logger.exception("storing a batch of %d results failed; storing them one by one", len(batch))
            return await self._write_one_by_one(entries)
        self._buffer.discard_through(entries[-1].mark)
        self._stored(outcome)
        return True

    async def _write_one_by_one(self, entries: list[BufferedResult]) -> bool:
        for entry in entries:
            result = entry.result
            try:
                outcome = await asyncio.to_thread(
                    functools.partial(self._record.execute, [result], epochs=[entry.epoch])
                )
            except StorageUnavailable as exc:
                self._storage.outage(exc)
                return False
            except Exception:
                logger.exception(
                    "dropping a result of webserver %s that cannot be stored", result.webserver_id
                )
                self._metrics.add(RESULTS_DROPPED, 1, "unstorable")
            else:
                self._stored(outcome)
            self._buffer.discard_through(entry.mark)
        return True

    def _stored(self, outcome: RecordOutcome) -> None:
        self.stored += outcome.stored
        self._metrics.add(RESULTS_STORED, outcome.stored)
        outdated = outcome.dropped - outcome.fenced
        if outdated:
            self._metrics.add(RESULTS_DROPPED, outdated, "outdated")
        if outcome.fenced:
            self._metrics.add(RESULTS_DROPPED, outcome.fenced, "fenced")
            self._unreported_fenced += outcome.fenced
        self._storage.reachable(len(self._buffer))

    def _log_drops(self) -> None:
        if self._unreported_fenced:
            logger.warning(
                "dropped %d results taken under a lease another worker has taken over since",
                self._unreported_fenced,
            )
            self._unreported_fenced = 0
        dropped = self._buffer.dropped - self._reported_drops
        if dropped:
            self._reported_drops = self._buffer.dropped
            self._metrics.add(RESULTS_DROPPED, dropped, "buffer_full")
            logger.error(
                "dropped the %d oldest results: more than %d were waiting to be stored",
                dropped,
                self._settings.buffer_limit,
            )
