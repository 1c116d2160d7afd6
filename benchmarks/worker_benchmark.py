"""Worker benchmark: the real worker against N local targets, compared with a bare aiohttp loop.

    .venv/bin/python benchmarks/worker_benchmark.py [--servers 30000 --interval 60 --duration 150]
                                                    [--database sqlite|postgres] [--https]

A separate process serves every target (`/t/<n>`) from one loopback port with a minimal HTTP
responder, so the target costs as little CPU as possible. The script registers N webservers in a
scratch database (a temporary SQLite file, or a scratch PostgreSQL database on
HEALTHMON_TEST_POSTGRES_URL), runs the real worker, as built by the container, for --duration
seconds, and prints probes/s, schedule lag (actual start minus planned start) p50/p99/max, the
largest gap between two probes of one server, the worker's CPU and RSS. Then it runs a bare aiohttp
loop with no database over the same targets and schedule (the baseline) and prints the ratio.

--https serves the targets over TLS with a certificate from a throwaway CA (trustme) that both
clients trust: every probe, of the worker and of the baseline, is a new connection with a full
handshake (no session is reused), and the worker also reads each peer certificate's expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import platform
import resource
import socket
import ssl
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import trustme
from dependency_injector import providers
from sqlalchemy import select

from healthmon.adapters.aiohttp_prober import open_client_session
from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.adapters.sqlalchemy.engine import create_database_engine, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.tables import requests_table
from healthmon.application.monitoring.activity import percentile
from healthmon.application.monitoring.metrics import PROBE_LAG, PROBES_FINISHED, RESULTS_STORED
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.application.monitoring.schedule import first_offset
from healthmon.container import build_container
from healthmon.domain.webserver import WebserverId, WebserverSettings
from healthmon.settings import Settings

try:
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, scratch_database
except ModuleNotFoundError:  # python benchmarks/worker_benchmark.py: this directory is on sys.path
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        scratch_database,
    )

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class _Responder(asyncio.Protocol):
    """Answers one request with 200 and closes: the cheapest possible healthy target."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            assert isinstance(self.transport, asyncio.Transport)
            self.transport.write(RESPONSE)
            self.transport.close()


def _serve_targets(sock: socket.socket, tls: ssl.SSLContext | None) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Responder, sock=sock, backlog=4096, ssl=tls)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def throwaway_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1 from a new CA, and a client context trusting it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@contextlib.contextmanager
def target_process(tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """A child process answering 200 to every request on a loopback port (TLS with tls); yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(
        target=_serve_targets, args=(sock, tls), daemon=True
    )
    process.start()
    sock.close()
    try:
        yield port
    finally:
        process.terminate()
        process.join(5)


@contextlib.contextmanager
def migrated_database(kind: str) -> Iterator[str]:
    """A migrated, empty database URL: a temporary SQLite file or a scratch PostgreSQL database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            upgrade_database(url)
            yield url
        return
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    with scratch_database(admin_url, keep=False) as scratch:
        url = scratch.render_as_string(hide_password=False)
        upgrade_database(url)
        yield url


def usage() -> tuple[float, float]:
    """CPU seconds used so far by this process, and its peak RSS in MiB."""
    self = resource.getrusage(resource.RUSAGE_SELF)
    return self.ru_utime + self.ru_stime, self.ru_maxrss / 1024


async def run_worker(
    url: str, port: int, servers: int, interval: int, duration: float, *, tls: ssl.SSLContext | None = None
) -> dict[str, float]:
    settings = Settings(
        database_url=url,
        max_concurrent_probes=500,
        max_probes_per_host=500,
        summary_seconds=3600.0,
    )
    container = build_container(settings)
    # Every lag sample of the run, for its percentiles.
    metrics = InMemoryMetrics(samples_kept=None)
    container.metrics.override(providers.Object(metrics))
    if tls is not None:
        # The container's session, but trusting the benchmark's CA (and still under the outbound policy).
        container.client_session.override(
            providers.Resource(
                open_client_session,
                limit=settings.max_concurrent_probes,
                limit_per_host=settings.max_probes_per_host,
                ssl_context=tls,
                policy=container.outbound_policy,
            )
        )
    scheme = "http" if tls is None else "https"
    await container.init_resources()  # type: ignore[misc]
    try:
        with container.uow() as uow:
            for n in range(servers):
                uow.webservers.add(
                    WebserverSettings(
                        name=f"target {n}",
                        url=f"{scheme}://127.0.0.1:{port}/t/{n}",
                        interval_seconds=interval,
                    ),
                    now=datetime.now(UTC),
                )
            uow.commit()
        monitor: MonitorWebservers = await container.monitor()  # type: ignore[misc]
        stop = asyncio.Event()
        cpu_before, _ = usage()
        started = time.monotonic()
        task = asyncio.create_task(monitor.run(stop))
        await asyncio.sleep(duration)
        stop.set()
        await task
        elapsed = time.monotonic() - started
        cpu_after, rss = usage()
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
    gaps = largest_gaps(url)
    finished = metrics.value(PROBES_FINISHED)
    lags = metrics.histogram(PROBE_LAG)
    return {
        "probes": finished,
        "probes/s": finished / elapsed,
        "lag p50 ms": percentile(lags.samples, 0.50) * 1000,
        "lag p99 ms": percentile(lags.samples, 0.99) * 1000,
        "lag max ms": lags.maximum * 1000,
        "largest gap s": max(gaps, default=0.0),
        "servers over interval+1s": sum(1 for gap in gaps if gap > interval + 1),
        "stored": metrics.value(RESULTS_STORED),
        "cpu %": 100 * (cpu_after - cpu_before) / elapsed,
        "cpu ms per probe": 1000 * (cpu_after - cpu_before) / max(finished, 1),
        "rss MiB": rss,
    }


def largest_gaps(url: str) -> list[float]:
    """The largest gap between consecutive probes of each server, from the stored history."""
    starts: dict[int, list[float]] = defaultdict(list)
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(requests_table.c.webserver_id, requests_table.c.started_at).order_by(
                    requests_table.c.webserver_id, requests_table.c.started_at
                )
            )
            for webserver_id, started_at in rows:
                starts[webserver_id].append(started_at.timestamp())
    finally:
        engine.dispose()
    return [max((b - a for a, b in itertools.pairwise(times)), default=0.0) for times in starts.values()]


async def run_baseline(
    port: int, servers: int, interval: int, duration: float, *, tls: ssl.SSLContext | None = None
) -> dict[str, float]:
    """The same targets and schedule probed by a bare aiohttp loop: no database, no health."""
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(
        limit=500, limit_per_host=500, force_close=True, ssl=tls if tls is not None else True
    )
    scheme = "http" if tls is None else "https"
    lags: list[float] = []
    done = 0
    cpu_before, _ = usage()
    start = loop.time()
    slots = asyncio.Semaphore(500)

    async def probe(session: aiohttp.ClientSession, n: int, planned: float) -> None:
        nonlocal done
        async with slots:
            lags.append(loop.time() - planned)
            async with session.get(f"{scheme}://127.0.0.1:{port}/t/{n}") as response:
                response.close()
            done += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        plan = sorted(
            (start + first_offset(WebserverId(n + 1), interval) + k * interval, n)
            for n in range(servers)
            for k in range(int(duration // interval) + 1)
        )
        tasks = set()
        for planned, n in plan:
            if planned - start > duration:
                break
            delay = planned - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(probe(session, n, planned))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    cpu_after, _ = usage()
    return {
        "probes": done,
        "probes/s": done / elapsed,
        "lag p99 ms": percentile(lags, 0.99) * 1000,
        "cpu %": 100 * (cpu_after - cpu_before) / elapsed,
        "cpu ms per probe": 1000 * (cpu_after - cpu_before) / max(done, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, default=30_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--duration", type=float, default=150.0)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--https", action="store_true", help="TLS targets, a full handshake per probe")
    arguments = parser.parse_args()
    server_tls, client_tls = throwaway_tls() if arguments.https else (None, None)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"{arguments.servers} servers every {arguments.interval} s for {arguments.duration:g} s "
        f"on {arguments.database}{' over HTTPS' if arguments.https else ''}; "
        f"target: {arguments.servers / arguments.interval:.0f} probes/s"
    )
    with target_process(server_tls) as port:
        with migrated_database(arguments.database) as url:
            worker = asyncio.run(
                run_worker(
                    url, port, arguments.servers, arguments.interval, arguments.duration, tls=client_tls
                )
            )
        baseline = asyncio.run(
            run_baseline(port, arguments.servers, arguments.interval, arguments.duration, tls=client_tls)
        )
    for label, figures in (("worker", worker), ("bare aiohttp baseline", baseline)):
        print(f"{label}:")
        for key, value in figures.items():
            print(f"  {key:28} {value:12.1f}")
    print(f"throughput ratio worker/baseline: {worker['probes/s'] / baseline['probes/s']:.3f}")
    print(f"CPU ratio worker/baseline: {worker['cpu %'] / max(baseline['cpu %'], 0.01):.2f}")
    print(
        "CPU per probe ratio worker/baseline: "
        f"{worker['cpu ms per probe'] / max(baseline['cpu ms per probe'], 1e-9):.2f}"
    )


if __name__ == "__main__":
    main()
