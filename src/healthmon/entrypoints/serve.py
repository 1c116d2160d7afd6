"""The `healthmon serve` process: the HTTP API and, unless told otherwise, the worker, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from healthmon.application.delivery_loop import DeliveryStats
from healthmon.application.jobs.runner import JobStats
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.container import Container
from healthmon.entrypoints.http import create_app
from healthmon.entrypoints.worker import start_deliveries, start_jobs

logger = logging.getLogger(__name__)

# /readyz reports the worker dead when its scheduling loop has not turned for this long.
WORKER_STALL_SECONDS = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops the API and the worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(container: Container, *, host: str, port: int, with_worker: bool) -> None:
    """Serve until SIGTERM or SIGINT; then stop taking requests, stop the worker gracefully, clean up."""
    await container.init_resources()  # type: ignore[misc]
    try:
        with contextlib.ExitStack() as held:
            if with_worker:
                held.enter_context(container.worker_lock())
            await _serve_until_stopped(container, host=host, port=port, with_worker=with_worker)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


async def _serve_until_stopped(container: Container, *, host: str, port: int, with_worker: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    worker: asyncio.Task[object] | None = None
    monitor: MonitorWebservers | None = None
    deliveries: asyncio.Task[DeliveryStats] | None = None
    jobs: asyncio.Task[JobStats] | None = None
    if with_worker:
        monitor = await container.monitor()  # type: ignore[misc]
        worker = asyncio.create_task(monitor.run(stop), name="healthmon-worker")
        deliveries = await start_deliveries(container, stop)
        jobs = start_jobs(container, stop)

    def worker_alive() -> bool:
        if worker is None or monitor is None or worker.done():
            return False
        return loop.time() - monitor.last_turn < WORKER_STALL_SECONDS

    app = create_app(container, worker_alive=worker_alive if with_worker else None, manage_resources=False)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))

    def request_stop(signum: int) -> None:
        if not stop.is_set():
            logger.info("%s received: stopping the API and the worker", signal.Signals(signum).name)
        stop.set()
        server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    await server.serve()
    stop.set()
    if worker is not None:
        await worker
    if deliveries is not None:
        await deliveries
    if jobs is not None:
        await jobs
