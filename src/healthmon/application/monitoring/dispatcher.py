"""The dispatcher: starts each due probe once its turn comes, and queues the result for the writer."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime

from healthmon.application.monitoring.activity import ProbeActivity
from healthmon.application.monitoring.admission import ProbeAdmission
from healthmon.application.monitoring.metrics import (
    PROBE_LAG,
    PROBES_ABANDONED,
    PROBES_IN_FLIGHT,
    PROBES_SKIPPED,
    PROBES_STARTED,
    PROBES_WAITING,
    RESULTS_BUFFERED,
    RESULTS_DROPPED,
    count_probe,
)
from healthmon.application.monitoring.result_buffer import ResultBuffer
from healthmon.application.monitoring.schedule import Schedule, Ticket
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.monitoring.waiting import wait_for
from healthmon.application.ports import Metrics, Prober
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import WebserverId

logger = logging.getLogger(__name__)

# The dispatcher sleeps at least this long between turns, so due probes start a few at a time rather
# than one turn (and one timer) each; it is the most schedule lag this adds.
MIN_TURN_SECONDS = 0.005


class Dispatcher:
    """Start every probe when its server is due and its turn comes; queue each result that still applies.

    - A due probe waits until fewer than max_concurrent_probes run in all and fewer than
      max_probes_per_host against its host:port; the one that has waited longest goes first.
    - Due servers leave the schedule only while slots are free for them: behind, the backlog stays
      in the schedule (no ticket per due server piles up), and each ended probe starts the next due.
    - Otherwise due probes start in turns at least MIN_TURN_SECONDS apart (the most lag this adds);
      an ended probe wakes the loop early only when its server is due before the loop's next turn.
    - When its turn comes, a probe whose server was removed or reconfigured meanwhile is skipped
      (a reconfigured server is due again at once, with its new settings).
    - Nothing starts once `lease_until()` (loop time) has passed, nor after the dispatcher stopped.
    - A result is queued only while it still describes its server (not removed, same URL), stamped
      with the lease epoch its probe started under (`epoch_of`); a full batch wakes the writer.
    - Stopping: probes in flight get shutdown_grace_seconds to end; the rest are abandoned.
    """

    def __init__(
        self,
        schedule: Schedule,
        buffer: ResultBuffer,
        prober: Prober,
        metrics: Metrics,
        settings: MonitorSettings,
        *,
        wake: asyncio.Event,
        lease_until: Callable[[], float],
        epoch_of: Callable[[WebserverId], int],
        batch_ready: Callable[[], None],
        wall: Callable[[], datetime],
        activities: Sequence[ProbeActivity] = (),
    ) -> None:
        self._schedule = schedule
        self._buffer = buffer
        self._prober = prober
        self._metrics = metrics
        self._settings = settings
        self._wake = wake
        self._lease_until = lease_until
        self._epoch_of = epoch_of
        self._batch_ready = batch_ready
        self._wall = wall
        self._activities = activities
        self._admission = ProbeAdmission(settings.max_concurrent_probes, settings.max_probes_per_host)
        self._probes: set[asyncio.Task[None]] = set()
        self._stopped = False
        # The loop time the dispatching loop sleeps until: a probe that ends wakes it only when its
        # server is due before then (waking it for every probe cost more than storing the results).
        self._sleeps_until = math.inf
        # The loop time of the last turn of the dispatching loop: a stall shows as an old value.
        self.turned_at = 0.0
        # Set while due servers wait in the schedule for free slots: ended probes then start them.
        self._behind = False

    @property
    def in_flight(self) -> int:
        """How many probes run now."""
        return len(self._probes)

    def show_gauges(self) -> None:
        """Set the gauges of probes in flight, probes waiting and results buffered to their values now."""
        # Sampled (each refresh) rather than set at every probe: a scrape sees the same, for less work.
        self._metrics.set(PROBES_IN_FLIGHT, self._admission.in_flight)
        # Behind, the due servers beyond the free slots wait in the schedule rather than as tickets.
        backlog = self._schedule.count_due(asyncio.get_running_loop().time()) if self._behind else 0
        self._metrics.set(PROBES_WAITING, self._admission.waiting + backlog)
        self._metrics.set(RESULTS_BUFFERED, len(self._buffer))

    async def run_until(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set (it must also set the wake event)."""
        loop = asyncio.get_running_loop()
        refresh = self._settings.refresh_seconds
        try:
            while not stop.is_set():
                now = self.turned_at = loop.time()
                lease_until = self._lease_until()
                # Past the lease another worker may already hold these servers: start nothing until
                # a beat succeeds (it sets the wake event).
                held = now < lease_until
                if held:
                    self._start_due(now)
                next_due = self._schedule.next_due()
                # Behind, ended probes start the backlog: the loop only keeps its turns for the rest.
                wait = refresh if next_due is None or not held or self._behind else next_due - now
                if held:
                    wait = min(wait, lease_until - now)
                self._wake.clear()
                if wait > 0:
                    wait = min(max(wait, MIN_TURN_SECONDS), refresh)
                    self._sleeps_until = now + wait
                    await wait_for(self._wake, wait)
                    self._sleeps_until = math.inf
        finally:
            self._stopped = True

    async def let_probes_finish(self) -> int:
        """Give the probes in flight the shutdown grace, cancel the rest; how many were abandoned."""
        self._stopped = True
        abandoned = 0
        if self._probes:
            _, pending = await asyncio.wait(set(self._probes), timeout=self._settings.shutdown_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            abandoned = len(pending)
        if abandoned:
            self._metrics.add(PROBES_ABANDONED, abandoned)
        self.show_gauges()
        return abandoned

    def _start_due(self, now: float) -> None:
        # Due servers are taken only into free slots, and probes waiting for a slot go first.
        self._start_admitted(now)
        was_behind, self._behind = self._behind, False
        while not self._stopped and now < self._lease_until():
            room = self._admission.room
            if room <= 0:
                next_due = self._schedule.next_due()
                self._behind = next_due is not None and next_due <= now
                break
            tickets = self._schedule.take_due(now, room)
            self._admission.wait(tickets)
            self._start_admitted(now)
            if len(tickets) < room:
                break
        if was_behind and not self._behind:
            # The loop slept as if behind: let it plan its next turn.
            self._wake.set()

    def _start_admitted(self, now: float) -> None:
        if self._stopped or now >= self._lease_until():
            return
        while (ticket := self._admission.admit()) is not None:
            if not self._schedule.is_current(ticket):
                self._schedule.give_back(ticket)
                self._admission.release(ticket)
                self._metrics.add(PROBES_SKIPPED)
                self._wake.set()
                continue
            lag = max(0.0, now - ticket.planned)
            self._metrics.add(PROBES_STARTED)
            self._metrics.observe(PROBE_LAG, lag)
            for activity in self._activities:
                activity.started(lag)
            task = asyncio.create_task(self._probe(ticket, now))
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)

    async def _probe(self, ticket: Ticket, started: float) -> None:
        loop = asyncio.get_running_loop()
        started_at = self._wall()
        epoch = self._epoch_of(ticket.webserver.id)
        try:
            result = await self._prober.probe(ticket.webserver)
        except Exception as exc:
            # A Prober must not raise; if one does, the probe still ends as a stored failure, so a
            # broken target can never keep its last health for ever.
            logger.debug("probe of webserver %s raised", ticket.webserver.id, exc_info=True)
            result = ProbeResult.failure(
                ticket.webserver.id,
                started_at=started_at,
                latency_ms=max(0.0, (self._wall() - started_at).total_seconds() * 1000),
                kind=ErrorKind.CONNECTION_ERROR,
                message=f"the prober failed: {type(exc).__name__}",
            )
        finally:
            current = self._schedule.finish(ticket, loop.time(), started)
            self._admission.release(ticket)
            # Never sooner than a whole turn after the last one, even for a server due at once.
            # Behind, this probe's end starts the next due server itself (below).
            next_due = None if self._behind else self._schedule.next_due()
            if next_due is not None and max(next_due, self.turned_at + MIN_TURN_SECONDS) < self._sleeps_until:
                self._wake.set()
        count_probe(self._metrics, result)
        if current:
            self._buffer.put(result, epoch)
            if len(self._buffer) >= self._settings.batch_size:
                self._batch_ready()
        else:
            self._metrics.add(RESULTS_DROPPED, 1, "outdated")
        if self._behind:
            self._start_due(loop.time())
        else:
            self._start_admitted(loop.time())
