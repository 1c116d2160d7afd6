"""The monitoring loop: probe every webserver when it is due and store every result in batches."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from healthmon.application.errors import StorageUnavailable
from healthmon.application.membership import Membership, this_worker
from healthmon.application.ports import Clock, Prober, UnitOfWork, WorkerInfo
from healthmon.application.result_buffer import ResultBuffer
from healthmon.application.schedule import Schedule, Ticket
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import Webserver, WebserverId

logger = logging.getLogger(__name__)

LOAD_PAGE = 1000
# A worker whose heartbeat is this many leases old is deleted from the workers table.
FORGET_AFTER_LEASES = 10


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
    # A worker holds its servers while its heartbeat is younger than this; a dead worker's servers
    # are taken over this long after its last heartbeat.
    lease_seconds: float = 6.0
    # The store lets no other worker run (SQLite's file lock): nobody can take this worker's servers,
    # so it goes on probing through a database outage instead of stopping when its lease lapses.
    exclusive: bool = False

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "batch_size", "buffer_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "refresh_seconds",
            "flush_seconds",
            "summary_seconds",
            "retry_initial_seconds",
            "lease_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def heartbeat_seconds(self) -> float:
        """How often the worker beats, claims and releases: three times a lease."""
        return self.lease_seconds / 3

    @property
    def lease_margin_seconds(self) -> float:
        """How long before its lease may expire (by the last beat sent) the worker stops starting probes."""
        return self.lease_seconds / 6


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
    # Heartbeats sent, and the seconds spent in the statements that beat, claim and release.
    heartbeats: int = 0
    leasing_seconds: float = 0.0
    claimed: int = 0
    released: int = 0


@dataclass(frozen=True, slots=True)
class _Round:
    """What one refresh learnt: on a heartbeat the fair share; the held servers when they changed."""

    membership: Membership | None
    held: list[Webserver] | None
    handed_back: list[WebserverId]
    claimed: int


class MonitorWebservers:
    """Probe every webserver on its own schedule and store every result.

    - Each server has its own next-due time; one hung target delays no other.
    - At most one probe per server is in flight, and at most max_concurrency in all.
    - New, changed and removed servers are picked up within refresh_seconds (plus one read).
    - Results queue in memory and are stored in batches (every flush_seconds or batch_size results),
      off the event loop; during a database outage they wait, in order, up to buffer_limit.
    - A result of a server that was removed, or whose URL changed, while it was probed is dropped.
    - Workers share the servers: each probes only the servers it holds a lease on. Every heartbeat it
      renews all its leases with one write, claims servers up to its fair share (unheld ones, or
      those of workers whose heartbeat is older than lease_seconds) and hands back those above it
      (taken off the schedule first, handed back once their results are stored).
    - No probe starts once lease_seconds minus a margin have passed since the last beat that
      succeeded was sent; probing resumes after a beat succeeds and the held servers are reloaded.
    - Stopping: no new probes; in-flight ones get shutdown_grace_seconds to finish, the rest are
      abandoned without a row; every result taken is then flushed, and every lease handed back.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        prober: Prober,
        record: RecordProbeResults,
        settings: MonitorSettings | None = None,
        *,
        worker: WorkerInfo | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._uow = uow
        self._prober = prober
        self._record = record
        self.settings = settings or MonitorSettings()
        self._wall: Callable[[], datetime] = clock.now if clock is not None else _utc_now
        self.worker = worker if worker is not None else this_worker(self._wall())
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
        self._ttl = timedelta(seconds=self.settings.lease_seconds)
        # Loop time until which the leases are surely held; no probe starts after it.
        self._lease_until = -math.inf
        # Servers taken off the schedule to be handed back, with the buffer mark of their last result.
        self._releasing: dict[WebserverId, int] = {}
        self._reported_probes = 0
        self._reported_at = 0.0
        self._recent_lags: list[float] = []
        self._round: asyncio.Future[_Round] | None = None

    async def run(self, stop: asyncio.Event) -> MonitorStats:
        """Monitor until `stop` is set, then shut down gracefully and return the final counters."""
        loop = asyncio.get_running_loop()
        self._reported_at = loop.time()
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
            await self._leave()
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
            # Past this point another worker may already hold these servers: start nothing until a
            # beat succeeds (it wakes this loop).
            held = self.settings.exclusive or loop.time() < self._lease_until
            for ticket in self._schedule.take_due(loop.time()) if held else []:
                task = asyncio.create_task(self._probe(ticket, loop))
                self._probes.add(task)
                task.add_done_callback(self._probes.discard)
            next_due = self._schedule.next_due()
            wait = self.settings.refresh_seconds if next_due is None or not held else next_due - loop.time()
            if held and not self.settings.exclusive:
                wait = min(wait, self._lease_until - loop.time())
            self._wake.clear()
            if wait > 0:
                await self._wait(self._wake, min(wait, self.settings.refresh_seconds))

    async def _probe(self, ticket: Ticket, loop: asyncio.AbstractEventLoop) -> None:
        result: ProbeResult | None = None
        async with self._slots:
            self.stats.probes_started += 1
            lag = max(0.0, loop.time() - ticket.planned)
            self.stats.lags.append(lag)
            self._recent_lags.append(lag)
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
        next_beat = loop.time()
        while True:
            sent = loop.time()
            # A lapsed lease may have been taken over: reload what is still held before probing again.
            if sent >= self._lease_until:
                self._revision = None
            beating = sent >= next_beat
            report = self._report(sent) if beating else None
            if beating:
                next_beat = sent + self.settings.heartbeat_seconds
            # Shielded: when stopping cancels this loop, the round's thread still ends its transaction
            # before _leave() enters the same unit of work.
            self._round = asyncio.ensure_future(
                asyncio.to_thread(self._take_part, report, self._ready_to_release() if beating else [])
            )
            try:
                outcome = await asyncio.shield(self._round)
            except StorageUnavailable as exc:
                self._note_outage(exc)
            except Exception:
                logger.exception("refreshing the servers failed; probing stops when the lease runs out")
            else:
                self._apply(outcome, loop.time())
                if beating:
                    self._lease_until = (
                        sent + self.settings.lease_seconds - self.settings.lease_margin_seconds
                    )
                self._wake.set()
            await asyncio.sleep(min(self.settings.refresh_seconds, max(0.0, next_beat - loop.time())))

    def _report(self, now: float) -> WorkerInfo:
        elapsed = max(now - self._reported_at, 1e-9)
        lags, self._recent_lags = self._recent_lags, []
        report = dataclasses.replace(
            self.worker,
            servers=len(self._schedule),
            probes_per_second=(self.stats.probes_started - self._reported_probes) / elapsed,
            lag_p99_ms=percentile(lags, 0.99) * 1000,
        )
        self._reported_probes, self._reported_at = self.stats.probes_started, now
        return report

    def _ready_to_release(self) -> list[WebserverId]:
        # Handed back only once their last results are stored, so the next holder sees their last check.
        return [
            webserver_id
            for webserver_id, mark in self._releasing.items()
            if not self._buffer.holds_through(mark)
        ]

    def _take_part(self, report: WorkerInfo | None, ready: list[WebserverId]) -> _Round:
        # Given a report (on a heartbeat): beat, forget the dead, hand back and claim. Then, always,
        # reload the held servers if they changed.
        me = self.worker.id
        started = time.perf_counter()
        membership: Membership | None = None
        claimed = released = 0
        with self._uow as uow:
            if report is not None:
                uow.workers.beat(report)
                uow.workers.forget(self._ttl * FORGET_AFTER_LEASES)
                membership = Membership(uow.webservers.count(), len(uow.workers.live(self._ttl)))
                released = uow.workers.release(me, ready)
                claimed = uow.workers.claim(me, ttl=self._ttl, limit=membership.wanted(report.servers))
            leasing = time.perf_counter() - started
            revision = uow.webservers.revision(owner=me)
            held: list[Webserver] | None = None
            if claimed or revision != self._revision:
                held = []
                after: WebserverId | None = None
                while page := uow.webservers.list(after=after, limit=LOAD_PAGE, owner=me):
                    held.extend(page)
                    after = page[-1].id
            committing = time.perf_counter()
            uow.commit()
        if report is not None:
            self.stats.heartbeats += 1
            self.stats.leasing_seconds += leasing + time.perf_counter() - committing
        self.stats.claimed += claimed
        self.stats.released += released
        self._revision = revision
        return _Round(membership, held, ready, claimed)

    def _apply(self, outcome: _Round, now: float) -> None:
        if outcome.membership is not None and (outcome.claimed or outcome.handed_back):
            logger.info(
                "took %d servers, handed back %d (fair share %d of %d among %d workers)",
                outcome.claimed,
                len(outcome.handed_back),
                outcome.membership.share,
                outcome.membership.total,
                outcome.membership.workers,
            )
        for webserver_id in outcome.handed_back:
            del self._releasing[webserver_id]
        if outcome.held is not None:
            held = [webserver for webserver in outcome.held if webserver.id not in self._releasing]
            self._schedule.sync(held, now, self._wall())
        extra = 0 if outcome.membership is None else outcome.membership.surplus(len(self._schedule))
        if surplus := self._schedule.idlest(extra):
            # Off the schedule first, so nothing starts on them; handed back at a later beat.
            self._schedule.drop(surplus)
            mark = self._buffer.last_mark
            self._releasing.update(dict.fromkeys(surplus, mark))
        self.stats.servers = len(self._schedule)

    async def _leave(self) -> None:
        if self._round is not None:
            await asyncio.wait([self._round], timeout=self.settings.shutdown_grace_seconds)
        try:
            await asyncio.to_thread(self._leave_now)
        except StorageUnavailable as exc:
            logger.warning(
                "could not hand back the leases (%s); they expire in %g s", exc, self.settings.lease_seconds
            )
        except Exception:
            logger.exception("handing back the leases failed; they expire by themselves")

    def _leave_now(self) -> None:
        with self._uow as uow:
            uow.workers.leave(self.worker.id)
            uow.commit()

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


def _utc_now() -> datetime:
    return datetime.now(UTC)


__all__ = ["MonitorSettings", "MonitorStats", "MonitorWebservers", "percentile"]
