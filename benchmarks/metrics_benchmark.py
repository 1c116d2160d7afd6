"""GET /metrics benchmark on PostgreSQL at 10,000 webservers: the read, the rendering, the event loop.

    .venv/bin/python benchmarks/metrics_benchmark.py [--servers 10000 --requests 1000000] [--samples 20]

Creates a scratch database on the server of HEALTHMON_TEST_POSTGRES_URL (default: the local one as
`postgres`), migrates it and fills it with storage_benchmark's generator (not measured). Then times:

- the fleet read (ReadFleet: one query for every webserver with its newest request, and the counts);
- the rendering of that snapshot, in the Prometheus text format and in OpenMetrics;
- whole scrapes of GET /metrics through the Litestar app in this process's event loop (httpx's ASGI
  transport), a fresh page each time (the clock moves 15 s between scrapes) and a cached one; meanwhile
  a ticker task that wakes every millisecond records the longest the loop went without running it.
  Beside it, the ticker's longest gap with the loop otherwise idle: the baseline. The page is built
  on a worker thread, so what holds the loop is the GIL: the full garbage collections the build
  triggers are counted and timed too.

The database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from dependency_injector import providers
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from healthmon.adapters.prometheus_page import render_fleet
from healthmon.adapters.sqlalchemy.engine import create_database_engine, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.application.ports import Clock
from healthmon.application.use_cases.fleet import FleetSnapshot
from healthmon.container import build_container
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings

try:  # python -m benchmarks.metrics_benchmark, and mypy
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, fill, machine, report, scratch_database, timed
except ModuleNotFoundError:  # python benchmarks/metrics_benchmark.py: this directory is on sys.path
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        fill,
        machine,
        report,
        scratch_database,
        timed,
    )

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class SteppedClock(Clock):
    """The wall clock plus an offset the benchmark moves, so a scrape finds the page stale at will."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FullCollections:
    """How long each full (generation 2) garbage collection took, from the collector's callbacks."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds.append(time.perf_counter() - self._started)


class LoopWatch:
    """A task waking every millisecond; `longest` is the longest gap between two of its turns."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.001)
            now = loop.time()
            # The sleep itself is a millisecond: what is beyond it the loop spent elsewhere.
            self.longest = max(self.longest, now - last - 0.001)
            last = now


async def scrapes(
    app: object, clock: SteppedClock, samples: int, *, fresh: bool
) -> tuple[list[float], float]:
    """Milliseconds per GET /metrics, and the loop's longest gap during them (ms)."""
    timings: list[float] = []
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/metrics")  # warm-up, and the cache filled
        if response.status_code != httpx.codes.OK:
            raise SystemExit(f"GET /metrics: {response.status_code} {response.text[:500]}")
        async with LoopWatch() as watch:
            for _ in range(samples):
                if fresh:
                    clock.offset += timedelta(seconds=15)
                start = time.perf_counter()
                response = await client.get("/metrics")
                timings.append((time.perf_counter() - start) * 1000)
                if response.status_code != httpx.codes.OK:
                    raise SystemExit(f"GET /metrics: {response.status_code}")
    return timings, watch.longest * 1000


async def idle_gap(seconds: float) -> float:
    """The loop's longest gap (ms) with nothing else to do: the baseline."""
    async with LoopWatch() as watch:
        await asyncio.sleep(seconds)
    return watch.longest * 1000


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20, help="timed reads, renderings and scrapes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))

    with scratch_database(admin_url, keep=arguments.keep) as url:
        rendered = url.render_as_string(hide_password=False)
        upgrade_database(rendered)
        print(
            f"healthmon metrics benchmark: {arguments.servers:,} webservers, {arguments.requests:,} "
            f"requests; {machine(rendered)}"
        )
        engine = create_database_engine(url, pool_size=1)
        try:
            start = time.perf_counter()
            fill(engine, arguments.servers, arguments.requests)
            print(f"fill + VACUUM ANALYZE (setup, not measured): {time.perf_counter() - start:.1f} s")
        finally:
            engine.dispose()

        container = build_container(Settings(database_url=rendered, http_threads=4))
        clock = SteppedClock()
        container.clock.override(providers.Object(clock))
        try:
            read_fleet = container.read_fleet
            snapshot = read_fleet().execute()
            if len(snapshot.readings) != arguments.servers:
                raise SystemExit(f"read {len(snapshot.readings)} webservers, not {arguments.servers}")
            report(
                "fleet read (ReadFleet.execute)", timed(lambda: read_fleet().execute(), arguments.samples, 2)
            )
            for label, accept in (("text 0.0.4", ""), ("OpenMetrics", OPENMETRICS)):
                encode, _ = choose_encoder(accept)

                def render(
                    encode: Callable[[Collector], bytes] = encode, snapshot: FleetSnapshot = snapshot
                ) -> bytes:
                    return render_fleet(snapshot, encode)

                page = render()
                lines = sum(1 for line in page.splitlines() if not line.startswith(b"#"))
                report(
                    f"render, {label} ({len(page) / 1e6:.1f} MB, {lines:,} series)",
                    timed(render, arguments.samples, 2),
                )

            # With the worker's (empty) registry too, as `serve` has it; and, as `serve` does once
            # started (cli._start), everything loaded so far frozen out of the collector's scans.
            app = create_app(container, worker_alive=lambda: True, manage_resources=False)
            del snapshot
            gc.collect()
            gc.freeze()
            pauses = FullCollections()
            baseline = asyncio.run(idle_gap(2.0))
            fresh, fresh_gap = asyncio.run(scrapes(app, clock, arguments.samples, fresh=True))
            cached, cached_gap = asyncio.run(scrapes(app, clock, arguments.samples * 10, fresh=False))
            report("GET /metrics, read and rendered", fresh)
            report("GET /metrics, from the 15 s cache", cached)
            print(
                f"event loop, longest gap: idle {baseline:.1f} ms (baseline); during fresh scrapes "
                f"{fresh_gap:.1f} ms; during cached scrapes {cached_gap:.1f} ms"
            )
            print(
                f"full garbage collections meanwhile: {len(pauses.seconds)}, longest "
                f"{max(pauses.seconds, default=0) * 1000:.1f} ms (they hold the GIL, so the loop too)"
            )
        finally:
            container.shutdown_resources()
    return 0


if __name__ == "__main__":
    sys.exit(main())
