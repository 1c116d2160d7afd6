"""The worker's own /metrics on HEALTHMON_METRICS_PORT: a small aiohttp server in the worker's event loop.

aiohttp rather than prometheus-client's own server: it is already how this process does its I/O,
it stops with the worker (no thread of its own to join) and it answers only GET and HEAD /metrics
(404 elsewhere). The worker's registry holds a few dozen series, so rendering a scrape in the
event loop costs it well under a millisecond.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from healthmon.domain.errors import HealthmonError

logger = logging.getLogger(__name__)

PATH = "/metrics"


class MetricsPortUnavailable(HealthmonError):
    """The worker's metrics port cannot be bound (taken, or the address is not this machine's)."""


def metrics_app(registry: Collector) -> web.Application:
    """An aiohttp application answering GET (and HEAD) /metrics with the registry, as Accept asks."""

    async def scrape(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        response = web.Response(body=encode(registry))
        # Set as a header: aiohttp's content_type argument refuses parameters such as version=.
        response.headers["Content-Type"] = content_type
        return response

    app = web.Application()
    app.router.add_get(PATH, scrape)
    return app


@contextlib.asynccontextmanager
async def serving_metrics(registry: Collector, *, host: str, port: int | None) -> AsyncIterator[None]:
    """Serve the registry on host:port for the block's duration; do nothing when port is None."""
    if port is None:
        yield
        return
    runner = web.AppRunner(metrics_app(registry), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise MetricsPortUnavailable(
                f"cannot serve the worker's metrics on {host}:{port} (HEALTHMON_METRICS_PORT): "
                f"{exc.strerror or exc}"
            ) from exc
        logger.info("worker metrics on http://%s:%d%s", host, port, PATH)
        yield
    finally:
        await runner.cleanup()
