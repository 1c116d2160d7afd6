"""The delivery loop: claim due deliveries, send them concurrently, record every outcome."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.metrics import DELIVERIES_SENT
from healthmon.application.ports import ClaimedDelivery, Clock, Metrics, Notifier
from healthmon.application.use_cases.deliveries import (
    ClaimDueDeliveries,
    DeliveryAttempt,
    RecordDeliveryAttempt,
)
from healthmon.domain.deliveries import AttemptOutcome, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

NOTIFIER_FAILED = AttemptOutcome(delivered=False, error="the notifier failed unexpectedly")


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How the delivery loop paces itself."""

    concurrency: int = 20
    # Must exceed the send timeout: a claim that lapses mid-send lets another worker send it too.
    claim_seconds: float = 60.0
    poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 10.0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for name in ("claim_seconds", "poll_seconds", "retry_initial_seconds", "retry_max_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


@dataclass(slots=True)
class DeliveryStats:
    """Counters the loop keeps for its logs, readiness checks and benchmarks."""

    claimed: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    # Attempts whose outcome could not be written before the claim ran out (they are sent again).
    unrecorded: int = 0
    abandoned_at_shutdown: int = 0
    in_flight: int = 0
    storage_available: bool = True
    heartbeat: float = 0.0


class DeliverDueEvents:
    """Deliver every queued event to its channel, at least once under crashes and exactly once otherwise.

    - Polls every poll_seconds (sooner while deliveries keep coming) for due deliveries, claimed in
      one transaction off the event loop; sends at most `concurrency` at once.
    - Each outcome is recorded with the claim still held; while the database is down the record is
      retried until the claim would lapse, after which the delivery is sent again (same webhook-id).
    - A database outage stops nothing: claims are retried every poll.
    - Stopping: no new claims; in-flight sends get shutdown_grace_seconds to finish and be recorded,
      the rest are abandoned (their claims expire and another worker, or the next start, sends them).
    """

    def __init__(
        self,
        claim: Callable[[], ClaimDueDeliveries],
        record: Callable[[], RecordDeliveryAttempt],
        notifier: Notifier,
        clock: Clock,
        settings: DeliverySettings | None = None,
        *,
        worker_id: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        # Factories: each claim and each record gets a use case with a unit of work of its own, as
        # records run in several threads at once and a unit of work serves one thread at a time.
        self._claim = claim
        self._record = record
        self._notifier = notifier
        self._clock = clock
        self.settings = settings or DeliverySettings()
        self.worker_id = worker_id if worker_id is not None else uuid.uuid4().hex
        self.stats = DeliveryStats()
        # Where each attempt is counted by its recorded result (DELIVERIES_SENT); None counts nowhere.
        self._metrics = metrics
        self._sending: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # Set when the last claim took every free slot: more may be due, so claim again as slots free.
        self._backlog = False

    async def run(self, stop: asyncio.Event) -> DeliveryStats:
        """Deliver until `stop` is set, then let in-flight sends finish and return the counters."""
        loop = asyncio.get_running_loop()
        watcher = asyncio.create_task(self._wake_on(stop), name="healthmon-delivery-stop-watch")
        try:
            while not stop.is_set():
                self.stats.heartbeat = loop.time()
                free = self.settings.concurrency - len(self._sending)
                self._wake.clear()
                if free > 0:
                    claimed = await self._claim_due(free)
                    self._backlog = len(claimed) == free
                    for item in claimed:
                        self._start(item, loop.time() + self.settings.claim_seconds)
                if self._backlog and len(self._sending) < self.settings.concurrency:
                    continue
                await _wait(self._wake, self.settings.poll_seconds)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await self._let_sends_finish()
        return self.stats

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def _claim_due(self, limit: int) -> list[ClaimedDelivery]:
        try:
            claimed = await asyncio.to_thread(self._claim().execute, self.worker_id, limit)
        except StorageUnavailable as exc:
            self._note_outage(exc)
            return []
        except Exception:
            logger.exception("claiming due deliveries failed; trying again at the next poll")
            return []
        self._note_available()
        self.stats.claimed += len(claimed)
        return claimed

    def _start(self, claimed: ClaimedDelivery, claim_deadline: float) -> None:
        task = asyncio.create_task(self._deliver(claimed, claim_deadline))
        self._sending.add(task)
        self.stats.in_flight = len(self._sending)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self.stats.in_flight = len(self._sending)
        # Claim in batches: once half the slots are free (or all of them, for a small concurrency).
        if self._backlog and len(self._sending) <= self.settings.concurrency // 2:
            self._wake.set()

    async def _deliver(self, claimed: ClaimedDelivery, claim_deadline: float) -> None:
        outcome = await self._send(claimed)
        attempt = DeliveryAttempt(
            worker_id=self.worker_id, claimed=claimed, outcome=outcome, at=self._clock.now()
        )
        written = await self._record_before(attempt, claim_deadline)
        if written is None:
            self._count("unrecorded")
            return
        if written.status is DeliveryStatus.DELIVERED:
            self.stats.delivered += 1
            self._count("delivered")
            return
        self.stats.failed_attempts += 1
        self._count("failed" if written.status is DeliveryStatus.FAILED else "retrying")
        if written.status is DeliveryStatus.FAILED:
            self.stats.given_up += 1
            logger.warning(
                "delivery %s of event %s to channel %s failed for good after %d attempts: %s",
                written.id,
                written.event_id,
                written.channel_id,
                written.attempts,
                written.last_error,
            )
        else:
            logger.info(
                "delivery %s of event %s to channel %s: attempt %d failed (%s); next at %s",
                written.id,
                written.event_id,
                written.channel_id,
                written.attempts,
                written.last_error,
                None if written.next_attempt_at is None else written.next_attempt_at.isoformat(),
            )

    async def _send(self, claimed: ClaimedDelivery) -> AttemptOutcome:
        try:
            return await self._notifier.send(claimed.channel, claimed.event)
        except Exception:
            logger.exception("sending delivery %s failed unexpectedly", claimed.delivery.id)
            return NOTIFIER_FAILED

    async def _record_before(self, attempt: DeliveryAttempt, claim_deadline: float) -> Delivery | None:
        loop = asyncio.get_running_loop()
        backoff = self.settings.retry_initial_seconds
        while True:
            try:
                written = await asyncio.to_thread(self._record().execute, attempt)
            except StorageUnavailable as exc:
                self._note_outage(exc)
            except Exception:
                logger.exception("recording delivery %s failed", attempt.claimed.delivery.id)
                break
            else:
                self._note_available()
                if written is None:
                    self.stats.unrecorded += 1
                return written
            if loop.time() + backoff >= claim_deadline:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.retry_max_seconds)
        self.stats.unrecorded += 1
        logger.warning(
            "delivery %s of event %s: the outcome could not be recorded; it will be sent again",
            attempt.claimed.delivery.id,
            attempt.claimed.event.id,
        )
        return None

    async def _let_sends_finish(self) -> None:
        if not self._sending:
            return
        _, pending = await asyncio.wait(set(self._sending), timeout=self.settings.shutdown_grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.stats.abandoned_at_shutdown = len(pending)
        if pending:
            logger.warning(
                "stopped with %d deliveries in flight after the %g s grace; they are sent again later",
                len(pending),
                self.settings.shutdown_grace_seconds,
            )

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.add(DELIVERIES_SENT, 1, result)

    def _note_outage(self, exc: StorageUnavailable) -> None:
        if self.stats.storage_available:
            self.stats.storage_available = False
            logger.warning("%s; deliveries wait until it is back", exc)

    def _note_available(self) -> None:
        if not self.stats.storage_available:
            self.stats.storage_available = True
            logger.warning("database reachable again; deliveries resume")

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
