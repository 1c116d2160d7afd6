"""Scale-out benchmark: 1, 2 and 4 worker processes sharing N local targets through PostgreSQL leases.

    .venv/bin/python benchmarks/scale_out_benchmark.py [--servers 3000 --interval 10 --warmup 15]
                                                       [--duration 30 --workers 1 2 4] [--lease-servers 1000]

For each worker count, a fresh scratch PostgreSQL database (on HEALTHMON_TEST_POSTGRES_URL) gets N
webservers on one local target process (worker_benchmark's), and that many worker processes run the
real monitor, built by the container. After --warmup seconds (the workers split the servers) it
measures --duration seconds and prints total probes/s, lag p99, duplicate probes over the whole run
(two stored probes of one server closer than interval / 2, which must be 0; results dropped as
stale are counted too), and the time the workers spent in the lease statements
(beat, claim, release), per probe and as a share of the workers' CPU time. Then it measures how many
leases one PostgreSQL grants per second: one transaction after another claiming and handing back
--lease-servers servers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import platform
import resource
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from typing import Any

from dependency_injector import providers
from sqlalchemy import select

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.tables import requests_table
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.monitoring.membership import this_worker
from healthmon.application.monitoring.metrics import (
    LEASE_ROUND_SECONDS,
    PROBE_LAG,
    PROBES_FINISHED,
    RESULTS_STORED,
)
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.container import build_container
from healthmon.domain.webserver import WebserverSettings
from healthmon.settings import Settings

try:
    from benchmarks.storage_benchmark import percentile
    from benchmarks.worker_benchmark import migrated_database, target_process
except ModuleNotFoundError:  # python benchmarks/scale_out_benchmark.py: this directory is on sys.path
    from storage_benchmark import percentile  # type: ignore[import-not-found, no-redef]
    from worker_benchmark import migrated_database, target_process  # type: ignore[import-not-found, no-redef]


def register(url: str, port: int, servers: int, interval: int) -> None:
    """N webservers, one path each on the target."""
    engine = create_database_engine(url, pool_size=1)
    try:
        with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            for n in range(servers):
                settings = WebserverSettings(
                    name=f"target {n}", url=f"http://127.0.0.1:{port}/t/{n}", interval_seconds=interval
                )
                uow.webservers.add(settings, datetime.now(UTC))
            uow.commit()
    finally:
        engine.dispose()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _monitor_for(url: str, warmup: float, duration: float) -> dict[str, Any]:
    settings = Settings(
        database_url=url, max_concurrent_probes=500, max_probes_per_host=500, summary_seconds=3600.0
    )
    container = build_container(settings)
    # Every lag sample of the run, so the window's can be cut out of them.
    metrics = InMemoryMetrics(samples_kept=None)
    container.metrics.override(providers.Object(metrics))
    await container.init_resources()  # type: ignore[misc]
    try:
        monitor: MonitorWebservers = await container.monitor()  # type: ignore[misc]
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        await asyncio.sleep(warmup)
        # The window: counters from here on, once the workers have split the servers.
        probes, leasing, cpu, lags = (
            metrics.value(PROBES_FINISHED),
            metrics.histogram(LEASE_ROUND_SECONDS).total,
            _cpu_seconds(),
            metrics.histogram(PROBE_LAG).count,
        )
        await asyncio.sleep(duration)
        window = {
            "probes": metrics.value(PROBES_FINISHED) - probes,
            "lags": metrics.histogram(PROBE_LAG).samples[lags:],
            "leasing seconds": metrics.histogram(LEASE_ROUND_SECONDS).total - leasing,
            "cpu seconds": _cpu_seconds() - cpu,
        }
        stop.set()
        await task
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
    return {**window, "finished": metrics.value(PROBES_FINISHED), "stored": metrics.value(RESULTS_STORED)}


def _worker_process(url: str, warmup: float, duration: float, results: Queue[dict[str, Any]]) -> None:
    results.put(asyncio.run(_monitor_for(url, warmup, duration)))


def run_workers(url: str, workers: int, warmup: float, duration: float) -> list[dict[str, Any]]:
    """Run that many worker processes side by side; each one's figures."""
    context = multiprocessing.get_context("fork")
    results: Queue[dict[str, Any]] = context.Queue()
    processes = [
        context.Process(target=_worker_process, args=(url, warmup, duration, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    figures = [results.get(timeout=warmup + duration + 120) for _ in processes]
    for process in processes:
        process.join(30)
    return figures


def duplicates(url: str, interval: int) -> int:
    """Stored probes of one server that started less than interval / 2 after the previous one."""
    engine = create_database_engine(url, pool_size=1)
    r = requests_table.c
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(r.webserver_id, r.started_at).order_by(r.webserver_id, r.started_at)
            )
            return sum(
                1
                for (first_id, first), (second_id, second) in itertools.pairwise(rows)
                if first_id == second_id and (second - first).total_seconds() < interval / 2
            )
    finally:
        engine.dispose()


def lease_rate(url: str, servers: int, seconds: float = 5.0) -> float:
    """Leases one PostgreSQL grants per second: claim every server, hand them back, commit, again."""
    engine = create_database_engine(url, pool_size=1)
    sessions = create_session_factory(engine)
    me = this_worker(datetime.now(UTC))
    ttl = timedelta(seconds=6)
    try:
        with SqlAlchemyUnitOfWork(sessions) as uow:
            uow.workers.beat(me)
            ids = [webserver.id for webserver in uow.webservers.list(limit=servers)]
            uow.commit()
        granted = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            with SqlAlchemyUnitOfWork(sessions) as uow:
                granted += uow.workers.claim(me.id, ttl=ttl, limit=len(ids))
                uow.workers.release(me.id, ids)
                uow.commit()
        return granted / (time.perf_counter() - started)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, default=3000)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--lease-servers", type=int, default=1000)
    arguments = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    target = arguments.servers / arguments.interval
    print(
        f"{arguments.servers} servers every {arguments.interval} s on PostgreSQL ({target:.0f} probes/s), "
        f"measured for {arguments.duration:g} s after a {arguments.warmup:g} s warm-up"
    )
    print(
        f"{'workers':>7} {'probes/s':>9} {'lag p99 ms':>11} {'duplicates':>10} {'stale':>6} "
        f"{'lease ms/probe':>14} {'lease % of CPU':>14} {'worker CPU %':>12}"
    )
    with target_process() as port:
        for workers in arguments.workers:
            with migrated_database("postgres") as url:
                register(url, port, arguments.servers, arguments.interval)
                figures = run_workers(url, workers, arguments.warmup, arguments.duration)
                duplicated = duplicates(url, arguments.interval)
            probes = sum(one["probes"] for one in figures)
            leasing = sum(one["leasing seconds"] for one in figures)
            cpu = sum(one["cpu seconds"] for one in figures)
            lags = [lag for one in figures for lag in one["lags"]]
            stale = sum(one["finished"] - one["stored"] for one in figures)
            print(
                f"{workers:>7} {probes / arguments.duration:>9.1f} {percentile(lags, 0.99) * 1000:>11.1f} "
                f"{duplicated:>10} {stale:>6} {leasing / max(probes, 1) * 1000:>14.4f} "
                f"{100 * leasing / cpu:>14.2f} {100 * cpu / arguments.duration:>12.1f}"
            )
        with migrated_database("postgres") as url:
            register(url, port, arguments.lease_servers, arguments.interval)
            rate = lease_rate(url, arguments.lease_servers)
    print(
        f"one PostgreSQL grants {rate:,.0f} leases/s (claim + hand back of {arguments.lease_servers} servers)"
    )


if __name__ == "__main__":
    main()
