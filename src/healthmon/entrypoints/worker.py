"""The worker process: monitor every webserver and deliver alerts until SIGTERM or SIGINT, then stop."""

from __future__ import annotations

import asyncio
import logging
import signal

from healthmon.application.delivery_loop import DeliverDueEvents, DeliveryStats
from healthmon.application.jobs.runner import JobStats, RunPeriodicJobs
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.container import Container
from healthmon.entrypoints.metrics_server import serving_metrics

logger = logging.getLogger(__name__)


async def run_monitor(container: Container, stop: asyncio.Event) -> None:
    """Run the container's monitor until `stop` is set; resources must already be initialised."""
    # Awaited: the monitor depends on the prober, which depends on an async resource (the ClientSession).
    monitor: MonitorWebservers = await container.monitor()  # type: ignore[misc]
    await monitor.run(stop)


async def start_deliveries(container: Container, stop: asyncio.Event) -> asyncio.Task[DeliveryStats]:
    """Start the delivery loop beside the monitor, until `stop` is set; resources must be ready."""
    # Awaited like the monitor: the webhook notifier depends on an async resource (its ClientSession).
    deliveries: DeliverDueEvents = await container.deliver_due_events()  # type: ignore[misc]
    return asyncio.create_task(deliveries.run(stop), name="healthmon-deliveries")


def start_jobs(container: Container, stop: asyncio.Event) -> asyncio.Task[JobStats]:
    """Start the periodic jobs' runner beside the monitor, until `stop` is set; resources must be ready."""
    jobs: RunPeriodicJobs = container.run_periodic_jobs()
    return asyncio.create_task(jobs.run(stop), name="healthmon-jobs")


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on the first SIGTERM or SIGINT; a second one is handled the same way (idempotent)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _request_stop, stop, signum)


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    if not stop.is_set():
        logger.info("%s received: finishing in-flight probes, then stopping", signal.Signals(signum).name)
    stop.set()


async def serve_worker(container: Container) -> None:
    """The `healthmon worker` process: init resources, monitor until a signal, shut resources down."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    settings = container.settings()
    await container.init_resources()  # type: ignore[misc]
    try:
        with container.worker_lock():
            async with serving_metrics(
                container.metrics_registry(), host=settings.host, port=settings.metrics_port
            ):
                deliveries = await start_deliveries(container, stop)
                jobs = start_jobs(container, stop)
                try:
                    await run_monitor(container, stop)
                finally:
                    stop.set()
                    await deliveries
                    await jobs
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
