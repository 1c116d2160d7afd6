"""The lease keeper: runs a lease round every refresh and applies its outcome to the schedule."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Callable
from datetime import datetime

from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.activity import ProbeActivity
from healthmon.application.monitoring.collector import CollectorFreeze
from healthmon.application.monitoring.lease_round import LeaseRound, LeaveLeases, RoundOutcome, RunLeaseRound
from healthmon.application.monitoring.metrics import (
    HEARTBEATS,
    LEASE_ROUND_SECONDS,
    LEASES_CLAIMED,
    LEASES_RELEASED,
    SERVERS_HELD,
)
from healthmon.application.monitoring.result_buffer import ResultBuffer
from healthmon.application.monitoring.schedule import Schedule
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.monitoring.storage_status import StorageStatus
from healthmon.application.ports import Metrics, UnitOfWork, WorkerInfo
from healthmon.domain.webserver import WebserverId

logger = logging.getLogger(__name__)

# The epoch stamped on a probe of a server this worker does not hold: epochs start at 0, so it never
# matches and such a result is never recorded.
UNHELD = -1


class LeaseKeeper:
    """Keep the schedule to the servers this worker holds, and know until when it surely holds them.

    - Every refresh_seconds a round reloads the held servers if they changed; every heartbeat_seconds
      it also beats (with this worker's report), claims up to the fair share and hands back.
    - Servers above the fair share come off the schedule at once (nothing new starts on them) and are
      handed back at a later beat, once their last results are stored.
    - Each held server comes with its lease epoch; every probe is stamped with it (`epoch_of`), and
      the store records only results of the server's current epoch.
    - The leases surely hold until lease_seconds minus a margin after the last successful beat was
      sent (for ever when the store is exclusive). Past that, probing goes on while the store cannot
      be reached (the last round failed, or has not answered by then): nobody can tell whether the
      servers changed hands, and the epochs fence off whatever did. Otherwise (the store answers,
      or no round ran: a paused process) no probe starts until a beat succeeds and the held servers
      are reloaded.
    - After an outage it claims nothing for a lease: the other workers, cut off as well, renew
      their leases meanwhile, so none of their servers (and buffered results) is taken from them.
    - Each round runs in a worker thread and returns its outcome; only the event loop applies it.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        schedule: Schedule,
        buffer: ResultBuffer,
        *,
        metrics: Metrics,
        storage: StorageStatus,
        settings: MonitorSettings,
        worker: WorkerInfo,
        wall: Callable[[], datetime],
        activity: ProbeActivity,
        wake: asyncio.Event,
    ) -> None:
        self._run_round = RunLeaseRound(uow, worker.id, settings.lease_seconds)
        self._leave = LeaveLeases(uow, worker.id)
        self._schedule = schedule
        self._buffer = buffer
        self._metrics = metrics
        self._storage = storage
        self._settings = settings
        self._worker = worker
        self._wall = wall
        self._activity = activity
        self._wake = wake
        # Loop time until which the leases are surely held.
        self._held_until = -math.inf
        # Set while the store cannot be reached, as the rounds found it; cleared by a successful beat.
        self._unreachable = False
        # Loop time from which this worker claims: during an outage never (inf), after it a lease
        # after the first beat that got through.
        self._claim_from = -math.inf
        self._revision: object = None
        self._epochs: dict[WebserverId, int] = {}
        # Servers taken off the schedule to be handed back, with the buffer mark of their last result.
        self._releasing: dict[WebserverId, int] = {}
        self._round: asyncio.Future[RoundOutcome] | None = None
        self._collector = CollectorFreeze()

    def lease_until(self) -> float:
        """The loop time after which no probe may start, as far as the leases go."""
        if self._settings.exclusive or self._unreachable:
            return math.inf
        return self._held_until

    def epoch_of(self, webserver_id: WebserverId) -> int:
        """The lease epoch a probe of this server starts under (UNHELD, which never matches, if not held)."""
        return self._epochs.get(webserver_id, UNHELD)

    async def run(self) -> None:
        """Run rounds until cancelled."""
        loop = asyncio.get_running_loop()
        settings = self._settings
        next_beat = loop.time()
        while True:
            sent = loop.time()
            # A lapsed lease may have been taken over: reload what is still held before probing again.
            if sent >= self._held_until:
                self._revision = None
            beating = sent >= next_beat
            request = LeaseRound(self._revision)
            if beating:
                request = LeaseRound(
                    self._revision,
                    self._report(sent),
                    self._ready_to_release(),
                    claiming=sent >= self._claim_from,
                )
                next_beat = sent + settings.heartbeat_seconds
            # Shielded: when stopping cancels this loop, the round's thread still ends its transaction
            # before leave() enters the same unit of work.
            self._round = asyncio.ensure_future(asyncio.to_thread(self._run_round.execute, request))
            try:
                outcome = await self._outcome(self._round)
            except StorageUnavailable as exc:
                self._storage.outage(exc)
                self._unreachable = True
                self._claim_from = math.inf
                # The first round that gets through beats, so the leases are renewed at once.
                next_beat = loop.time()
            except Exception:
                logger.exception("refreshing the servers failed; probing stops when the lease runs out")
            else:
                self._apply(outcome, loop.time())
                if beating:
                    self._held_until = sent + settings.lease_seconds - settings.lease_margin_seconds
                    if self._claim_from == math.inf:
                        self._claim_from = sent + settings.lease_seconds
                    self._unreachable = False
            # Probing may resume (a round applied) or go on past the lease (the store is out).
            self._wake.set()
            await asyncio.sleep(min(settings.refresh_seconds, max(0.0, next_beat - loop.time())))

    async def leave(self) -> None:
        """Hand every lease back (after the round under way, if any, has ended)."""
        if self._round is not None:
            await asyncio.wait([self._round], timeout=self._settings.shutdown_grace_seconds)
        try:
            await asyncio.to_thread(self._leave.execute)
        except StorageUnavailable as exc:
            logger.warning(
                "could not hand back the leases (%s); they expire in %g s", exc, self._settings.lease_seconds
            )
        except Exception:
            logger.exception("handing back the leases failed; they expire by themselves")

    async def _outcome(self, round_: asyncio.Future[RoundOutcome]) -> RoundOutcome:
        # A round still out when the lease lapses counts as an outage (the store may hang rather
        # than refuse): probing goes on under the epochs held until the round ends.
        if math.isfinite(self._held_until) and not self._unreachable:
            timeout = max(0.0, self._held_until - asyncio.get_running_loop().time())
            _, pending = await asyncio.wait([round_], timeout=timeout)
            if pending:
                self._unreachable = True
                self._wake.set()
        return await asyncio.shield(round_)

    def _report(self, now: float) -> WorkerInfo:
        activity = self._activity.take(now)
        return dataclasses.replace(
            self._worker,
            servers=len(self._schedule),
            probes_per_second=activity.per_second,
            lag_p99_ms=activity.lag_p99 * 1000,
        )

    def _ready_to_release(self) -> tuple[WebserverId, ...]:
        # Handed back only once their last results are stored, so the next holder sees their last check.
        return tuple(
            webserver_id
            for webserver_id, mark in self._releasing.items()
            if not self._buffer.holds_through(mark)
        )

    def _apply(self, outcome: RoundOutcome, now: float) -> None:
        self._revision = outcome.revision
        if outcome.leasing_seconds is not None:
            self._metrics.add(HEARTBEATS)
            self._metrics.observe(LEASE_ROUND_SECONDS, outcome.leasing_seconds)
        if outcome.claimed:
            self._metrics.add(LEASES_CLAIMED, outcome.claimed)
        if outcome.released:
            self._metrics.add(LEASES_RELEASED, outcome.released)
        membership = outcome.membership
        if membership is not None and (outcome.claimed or outcome.handed_back):
            logger.info(
                "took %d servers, handed back %d (fair share %d of %d among %d workers)",
                outcome.claimed,
                len(outcome.handed_back),
                membership.share,
                membership.total,
                membership.workers,
            )
        for webserver_id in outcome.handed_back:
            del self._releasing[webserver_id]
        if outcome.epochs is not None:
            self._epochs = outcome.epochs
        if outcome.held is not None:
            held = [webserver for webserver in outcome.held if webserver.id not in self._releasing]
            if self._schedule.sync(held, now, self._wall()):
                self._collector.held(len(self._schedule))
        extra = 0 if membership is None else membership.surplus(len(self._schedule))
        if surplus := self._schedule.idlest(extra):
            # Off the schedule first, so nothing starts on them; handed back at a later beat.
            self._schedule.drop(surplus)
            mark = self._buffer.last_mark
            self._releasing.update(dict.fromkeys(surplus, mark))
        self._metrics.set(SERVERS_HELD, len(self._schedule))
