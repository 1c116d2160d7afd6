"""The monitor: wires the dispatcher, the lease keeper and the writer, and runs them until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from healthmon.application.monitoring.activity import ProbeActivity
from healthmon.application.monitoring.dispatcher import Dispatcher
from healthmon.application.monitoring.lease_keeper import LeaseKeeper
from healthmon.application.monitoring.membership import this_worker
from healthmon.application.monitoring.result_buffer import ResultBuffer
from healthmon.application.monitoring.schedule import Schedule
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.monitoring.storage_status import StorageStatus
from healthmon.application.monitoring.writer import ResultWriter
from healthmon.application.ports import Clock, Metrics, Prober, UnitOfWork, WorkerInfo
from healthmon.application.use_cases.recording import RecordProbeResults

logger = logging.getLogger(__name__)


class MonitorWebservers:
    """Probe every webserver on its own schedule and store every result.

    - Each server has its own next-due time; one hung target delays no other.
    - At most one probe per server is in flight, at most max_concurrent_probes in all and at most
      max_probes_per_host against one host:port; a probe whose server was removed or reconfigured
      while it waited for its turn is not started.
    - New, changed and removed servers are picked up within refresh_seconds (plus one read).
    - Results queue in memory and are stored in batches (every flush_seconds or batch_size results),
      off the event loop; during a database outage they wait, in order, up to buffer_limit.
    - A result of a server that was removed, or whose URL changed, while it was probed is dropped.
    - Workers share the servers: each probes only the servers it holds a lease on. Every heartbeat it
      renews all its leases with one write, claims servers up to its fair share (unheld ones, or
      those of workers whose heartbeat is older than lease_seconds) and hands back those above it
      (taken off the schedule first, handed back once their results are stored).
    - Each claim moves the server's lease epoch on; every result carries the epoch its probe started
      under, and only results of the current epoch are recorded (fencing tokens), so two workers'
      results never both apply, even after a partition.
    - During a database outage probing goes on, on schedule, past the lease; the results wait and
      are written (or fenced off) once the database is back. When the store answers but the lease
      has lapsed (a paused process), no probe starts until a beat succeeds and the held servers
      are reloaded.
    - Stopping: no new probes; in-flight ones get shutdown_grace_seconds to finish, the rest are
      abandoned without a row; every result taken is then flushed, and every lease handed back.
    - Everything it counts goes to `metrics`.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        prober: Prober,
        record: RecordProbeResults,
        settings: MonitorSettings | None = None,
        *,
        metrics: Metrics,
        worker: WorkerInfo | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._uow = uow
        self._prober = prober
        self._record = record
        self._metrics = metrics
        self.settings = settings or MonitorSettings()
        self._wall: Callable[[], datetime] = clock.now if clock is not None else _utc_now
        self.worker = worker if worker is not None else this_worker(self._wall())
        self._dispatcher: Dispatcher | None = None

    @property
    def last_turn(self) -> float:
        """The loop time of the dispatching loop's last turn (0.0 before the first): a stall shows here."""
        return 0.0 if self._dispatcher is None else self._dispatcher.turned_at

    async def run(self, stop: asyncio.Event) -> None:
        """Monitor until `stop` is set, then shut down gracefully."""
        loop = asyncio.get_running_loop()
        settings, metrics = self.settings, self._metrics
        schedule = Schedule()
        buffer = ResultBuffer(settings.buffer_limit)
        storage = StorageStatus(metrics)
        # Set whenever the dispatcher should look again: a round applied, a probe ended, stopping.
        wake = asyncio.Event()
        reported, summarized = ProbeActivity(loop.time()), ProbeActivity(loop.time())
        writer = ResultWriter(self._record, buffer, metrics, storage, settings)
        keeper = LeaseKeeper(
            self._uow,
            schedule,
            buffer,
            metrics=metrics,
            storage=storage,
            settings=settings,
            worker=self.worker,
            wall=self._wall,
            activity=reported,
            wake=wake,
        )
        dispatcher = self._dispatcher = Dispatcher(
            schedule,
            buffer,
            self._prober,
            metrics,
            settings,
            wake=wake,
            lease_until=keeper.lease_until,
            epoch_of=keeper.epoch_of,
            batch_ready=writer.batch_ready,
            wall=self._wall,
            activities=(reported, summarized),
        )
        background = [
            asyncio.create_task(keeper.run(), name="healthmon-leases"),
            asyncio.create_task(
                _summarize_forever(settings, schedule, buffer, dispatcher, summarized),
                name="healthmon-summary",
            ),
            asyncio.create_task(_wake_on(stop, wake), name="healthmon-stop-watch"),
            asyncio.create_task(_show_gauges_forever(settings, dispatcher), name="healthmon-gauges"),
        ]
        writing = asyncio.create_task(writer.run(), name="healthmon-writer")
        try:
            await dispatcher.run_until(stop)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            abandoned = await dispatcher.let_probes_finish()
            writer.close(loop.time() + settings.shutdown_grace_seconds)
            await writing
            await keeper.leave()
            logger.info(
                "worker stopped: %d results stored, %d probes abandoned after the %g s grace, "
                "%d results could not be stored",
                writer.stored,
                abandoned,
                settings.shutdown_grace_seconds,
                writer.lost,
            )


async def _summarize_forever(
    settings: MonitorSettings,
    schedule: Schedule,
    buffer: ResultBuffer,
    dispatcher: Dispatcher,
    activity: ProbeActivity,
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.summary_seconds)
        window = activity.take(loop.time())
        logger.info(
            "monitoring %d servers: %.1f probes/s, lag p99 %.0f ms, queue depth %d, in flight %d",
            len(schedule),
            window.per_second,
            window.lag_p99 * 1000,
            len(buffer),
            dispatcher.in_flight,
        )


async def _show_gauges_forever(settings: MonitorSettings, dispatcher: Dispatcher) -> None:
    while True:
        dispatcher.show_gauges()
        await asyncio.sleep(settings.refresh_seconds)


async def _wake_on(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


def _utc_now() -> datetime:
    return datetime.now(UTC)
