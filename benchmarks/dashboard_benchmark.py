"""Dashboard benchmark on PostgreSQL: the overview of the real `healthmon serve` at 10,000 webservers.

    .venv/bin/python benchmarks/dashboard_benchmark.py [--servers 10000 --requests 1000000]
                                                       [--samples 100] [--keep]

Fills a scratch database as the API benchmark does (storage_benchmark's generator, moved to end
now, so that the uptimes and p95 count it; not measured), starts `healthmon serve --no-worker` on
it, and times, from one keep-alive client after a warm-up, the overview page (GET /, HTML) and its
data (GET /ui/data/overview) unfiltered, filtered by health and searched by name, and one server's
page; beside them, as a baseline, one page of GET /webservers?limit=1000. Prints p50/p99 against
the goal (the overview under 300 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, update

from healthmon.adapters.sqlalchemy.engine import create_database_engine, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table

try:  # python -m benchmarks.dashboard_benchmark, and mypy
    from benchmarks.api_benchmark import running_service
    from benchmarks.storage_benchmark import (
        DEFAULT_ADMIN_URL,
        HISTORY_START,
        PROBE_INTERVAL,
        fill,
        machine,
        report,
        scratch_database,
    )
except ModuleNotFoundError:  # python benchmarks/dashboard_benchmark.py: this directory is on sys.path
    from api_benchmark import running_service  # type: ignore[import-not-found, no-redef]
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        HISTORY_START,
        PROBE_INTERVAL,
        fill,
        machine,
        report,
        scratch_database,
    )

GOAL_MS = 300.0


def recent_history(engine: Engine, servers: int, requests: int) -> None:
    """Move the generated history so that it ends now: the overview's 24 h and 30 d figures then count it."""
    seconds = (datetime.now(UTC) - (HISTORY_START + PROBE_INTERVAL * (requests // servers))).total_seconds()
    shift = func.make_interval(0, 0, 0, 0, 0, 0, int(seconds))
    with engine.begin() as connection:
        connection.execute(update(requests_table).values(started_at=requests_table.c.started_at + shift))
        connection.execute(
            update(webservers_table).values(last_checked_at=webservers_table.c.last_checked_at + shift)
        )
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) webservers, requests")


def timed(client: httpx.Client, path: str, samples: int, **params: str) -> list[float]:
    """Milliseconds per GET of the path, which must answer 200."""
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - start) * 1000)
        if response.status_code != httpx.codes.OK:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:500]}")
    return timings


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=100, help="timed calls of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))

    with scratch_database(admin_url, keep=arguments.keep) as url, tempfile.TemporaryDirectory() as directory:
        rendered = url.render_as_string(hide_password=False)
        upgrade_database(rendered)
        print(
            f"healthmon dashboard benchmark: {arguments.servers:,} webservers, "
            f"{arguments.requests:,} requests; {machine(rendered)}"
        )
        engine = create_database_engine(url, pool_size=1)
        try:
            start = time.perf_counter()
            fill(engine, arguments.servers, arguments.requests)
            recent_history(engine, arguments.servers, arguments.requests)
            print(f"fill + VACUUM ANALYZE (setup, not measured): {time.perf_counter() - start:.1f} s")
        finally:
            engine.dispose()

        samples = arguments.samples
        with (
            running_service(rendered, Path(directory) / "serve.log") as base_url,
            httpx.Client(base_url=base_url, timeout=30.0) as client,
        ):
            print(f"healthmon serve --no-worker at {base_url}; one keep-alive client, one request at a time")
            timed(client, "/ui/data/overview", max(10, samples // 10))  # warm-up
            timed(client, "/", max(10, samples // 10))
            report(
                "baseline: GET /webservers?limit=1000", timed(client, "/webservers", samples, limit="1000")
            )
            report("GET / (overview page, HTML)", timed(client, "/", samples), GOAL_MS)
            report("GET /ui/data/overview", timed(client, "/ui/data/overview", samples), GOAL_MS)
            report(
                "GET /ui/data/overview?health=unhealthy&page=20",
                timed(client, "/ui/data/overview", samples, health="unhealthy", page="20"),
                GOAL_MS,
            )
            report(
                "GET /ui/data/overview?q=server 12",
                timed(client, "/ui/data/overview", samples, q="server 12"),
                GOAL_MS,
            )
            rng = random.Random(42)
            pages = [
                timed(client, f"/ui/webservers/{rng.randint(1, arguments.servers)}", 1)[0]
                for _ in range(samples)
            ]
            report("GET /ui/webservers/{id} (server page, HTML)", pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
