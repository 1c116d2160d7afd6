"""The monitoring loop: probe every webserver when it is due and store every result in batches."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field

from healthmon.application.errors import StorageUnavailable
from healthmon.application.ports import Prober, UnitOfWork
from healthmon.application.result_buffer import ResultBuffer
from healthmon.application.schedule import Schedule, Ticket
from healthmon.application.use_cases import RecordProbeResults
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import Webserver, WebserverId

logger = logging.getLogger(__name__)

LOAD_PAGE = 1000


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the monitor paces itself; the defaults suit tens of thousands of servers."""

    max_concurrency: int = 1000
    refresh_seconds: float = 1.0
    batch_size: int = 1000
    flush_seconds: float = 1.0
    # Ten minutes of results at 1,000 probes/s survive a database outage.
    buffer_limit: int = 600_000
    shutdown_grace_seconds: float = 10.0
    summary_seconds: float = 60.0
    retry_initial_seconds: float = 0.5
    # Short enough that results queued during an outage appear within seconds of the recovery.
    retry_max_seconds: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "batch_size", "buffer_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("refresh_seconds", "flush_seconds", "summary_seconds", "retry_initial_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples (0.0 when there are none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass(slots=True)
class MonitorStats:
    """Counters the monitor keeps for its summary line, readiness checks and benchmarks."""

    servers: int = 0
    in_flight: int = 0
    probes_started: int = 0
    probes_finished: int = 0
    results_stored: int = 0
    results_dropped: int = 0
    results_lost_at_shutdown: int = 0
    probes_abandoned: int = 0
    queue_depth: int = 0
    storage_available: bool = True
    lags: list[float] = field(default_factory=list)
    max_lag: float = 0.0
    heartbeat: float = 0.0


class MonitorWebservers:
    """Probe every webserver on its own schedule and store every result.

    - Each server has its own next-due time; one hung target delays no other.
    - At most one probe per server is in flight, and at most max_concurrency in all.
    - New, changed and removed servers are picked up within refresh_seconds (plus one read).
    - Results queue in memory and are stored in batches (every flush_seconds or batch_size results),
      off the event loop; during a database outage they wait, in order, up to buffer_limit.
    - A result of a server that was removed, or whose URL changed, while it was probed is dropped.
    - Stopping: no new probes; in-flight ones get shutdown_grace_seconds to finish, the rest are
      abandoned without a row; every result taken is then flushed.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        prober: Prober,
        record: RecordProbeResults,
        settings: MonitorSettings | None = None,
    ) -> None:
        self._uow = uow
        self._prober = prober
        self._record = record
        self.settings = settings or MonitorSettings()
        self.stats = MonitorStats()
        self._schedule = Schedule()
        self._buffer = ResultBuffer(self.settings.buffer_limit)
        self._revision: object = None
        self._probes: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._wake = asyncio.Event()
        self._batch_ready = asyncio.Event()
        # Set when stopping: the loop time after which the writer gives up on a failing store.
        self._flush_deadline: float | None = None
        self._reported_drops = 0

    async def run(self, stop: asyncio.Event) -> MonitorStats:
        """Monitor until `stop` is set, then shut down gracefully and return the final counters."""
        loop = asyncio.get_running_loop()
        background = [
            asyncio.create_task(self._refresh_forever(), name="healthmon-refresh"),
            asyncio.create_task(self._summarize_forever(), name="healthmon-summary"),
            asyncio.create_task(self._wake_on(stop), name="healthmon-stop-watch"),
        ]
        writer = asyncio.create_task(self._write_until_closed(), name="healthmon-writer")
        try:
            await self._dispatch_until(stop, loop)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._let_probes_finish()
            self._flush_deadline = loop.time() + self.settings.shutdown_grace_seconds
            self._batch_ready.set()
            await writer
            self._log_drops()
            logger.info(
                "worker stopped: %d results stored, %d probes abandoned after the %g s grace, "
                "%d results could not be stored",
                self.stats.results_stored,
                self.stats.probes_abandoned,
                self.settings.shutdown_grace_seconds,
                self.stats.results_lost_at_shutdown,
            )
        return self.stats

    # Scheduling and probing.

    async def _dispatch_until(self, stop: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        while not stop.is_set():
            self.stats.heartbeat = loop.time()
            for ticket in self._schedule.take_due(loop.time()):
                task = asyncio.create_task(self._probe(ticket, loop))
                self._probes.add(task)
                task.add_done_callback(self._probes.discard)
            next_due = self._schedule.next_due()
            wait = self.settings.refresh_seconds if next_due is None else next_due - loop.time()
            self._wake.clear()
            if wait > 0:
                await self._wait(self._wake, min(wait, self.settings.refresh_seconds))

    async def _probe(self, ticket: Ticket, loop: asyncio.AbstractEventLoop) -> None:
        result: ProbeResult | None = None
        async with self._slots:
            self.stats.probes_started += 1
            lag = max(0.0, loop.time() - ticket.planned)
            self.stats.lags.append(lag)
            self.stats.max_lag = max(self.stats.max_lag, lag)
            try:
                result = await self._prober.probe(ticket.webserver)
            except Exception:
                logger.exception("probe of webserver %s failed unexpectedly", ticket.webserver.id)
            finally:
                current = self._schedule.finish(ticket, loop.time())
                self._wake.set()
        self.stats.probes_finished += 1
        if result is not None and current:
            self._buffer.put(result)
            if len(self._buffer) >= self.settings.batch_size:
                self._batch_ready.set()

    async def _let_probes_finish(self) -> None:
        if not self._probes:
            return
        _, pending = await asyncio.wait(set(self._probes), timeout=self.settings.shutdown_grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.stats.probes_abandoned = len(pending)

    # Keeping the schedule in step with the store.

    async def _refresh_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                webservers = await asyncio.to_thread(self._load_if_changed)
            except StorageUnavailable as exc:
                self._note_outage(exc)
            except Exception:
                logger.exception("reading the webservers failed; keeping the current schedule")
            else:
                if webservers is not None and self._schedule.sync(webservers, loop.time()):
                    self.stats.servers = len(self._schedule)
                    self._wake.set()
            await asyncio.sleep(self.settings.refresh_seconds)

    def _load_if_changed(self) -> list[Webserver] | None:
        with self._uow as uow:
            revision = uow.webservers.revision()
            if revision == self._revision:
                return None
            webservers: list[Webserver] = []
            after: WebserverId | None = None
            while page := uow.webservers.list(after=after, limit=LOAD_PAGE):
                webservers.extend(page)
                after = page[-1].id
        self._revision = revision
        return webservers

    # Storing results.

    async def _write_until_closed(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.settings.retry_initial_seconds
        while True:
            if self._flush_deadline is None and len(self._buffer) < self.settings.batch_size:
                await self._wait(self._batch_ready, self.settings.flush_seconds)
            self._batch_ready.clear()
            while self._buffer:
                if await self._write_batch():
                    backoff = self.settings.retry_initial_seconds
                    if self._flush_deadline is None and len(self._buffer) < self.settings.batch_size:
                        break
                    continue
                pause = backoff
                if self._flush_deadline is not None:
                    pause = min(pause, self._flush_deadline - loop.time())
                    if pause <= 0:
                        self.stats.results_lost_at_shutdown = len(self._buffer)
                        logger.error(
                            "stopping with %d results that the database did not take", len(self._buffer)
                        )
                        return
                # Wake early when stopping begins, so the shutdown deadline is honoured.
                await self._wait(self._batch_ready, pause)
                self._batch_ready.clear()
                backoff = min(backoff * 2, self.settings.retry_max_seconds)
            self._log_drops()
            self.stats.queue_depth = len(self._buffer)
            if self._flush_deadline is not None:
                return

    async def _write_batch(self) -> bool:
        entries = self._buffer.peek(self.settings.batch_size)
        batch = [result for _, result in entries]
        try:
            outcome = await asyncio.to_thread(self._record.execute, batch)
        except StorageUnavailable as exc:
            self._note_outage(exc)
            return False
        except Exception:
            logger.exception("storing a batch of %d results failed; storing them one by one", len(batch))
            return await self._write_one_by_one(entries)
        self._buffer.discard_through(entries[-1][0])
        self._stored(outcome.stored)
        return True

    async def _write_one_by_one(self, entries: list[tuple[int, ProbeResult]]) -> bool:
        for mark, result in entries:
            try:
                outcome = await asyncio.to_thread(self._record.execute, [result])
            except StorageUnavailable as exc:
                self._note_outage(exc)
                return False
            except Exception:
                logger.exception(
                    "dropping a result of webserver %s that cannot be stored", result.webserver_id
                )
            else:
                self._stored(outcome.stored)
            self._buffer.discard_through(mark)
        return True

    def _stored(self, count: int) -> None:
        self.stats.results_stored += count
        self.stats.queue_depth = len(self._buffer)
        if not self.stats.storage_available:
            self.stats.storage_available = True
            logger.warning("database reachable again; %d results still queued", len(self._buffer))

    def _note_outage(self, exc: StorageUnavailable) -> None:
        if self.stats.storage_available:
            self.stats.storage_available = False
            logger.warning("%s; probing goes on and results wait in memory", exc)

    def _log_drops(self) -> None:
        dropped = self._buffer.dropped - self._reported_drops
        if dropped:
            self._reported_drops = self._buffer.dropped
            self.stats.results_dropped = self._buffer.dropped
            logger.error(
                "dropped the %d oldest results: more than %d were waiting to be stored",
                dropped,
                self.settings.buffer_limit,
            )

    # Reporting.

    async def _summarize_forever(self) -> None:
        started = self.stats.probes_started
        while True:
            await asyncio.sleep(self.settings.summary_seconds)
            lags, self.stats.lags = self.stats.lags, []
            done, started = self.stats.probes_started - started, self.stats.probes_started
            self.stats.in_flight = len(self._probes)
            self.stats.queue_depth = len(self._buffer)
            logger.info(
                "monitoring %d servers: %.1f probes/s, lag p99 %.0f ms, queue depth %d, in flight %d",
                len(self._schedule),
                done / self.settings.summary_seconds,
                percentile(lags, 0.99) * 1000,
                len(self._buffer),
                len(self._probes),
            )

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()


__all__ = ["MonitorSettings", "MonitorStats", "MonitorWebservers", "percentile"]
