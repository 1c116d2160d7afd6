"""Statistics benchmark on PostgreSQL: one server's stats over 24 h, 30 d and a year, GET /stats as CSV.

    .venv/bin/python benchmarks/stats_benchmark.py [--servers 10000 --days 365 --samples 200] [--keep]

Creates a scratch database (HEALTHMON_TEST_POSTGRES_URL's server, default the local one as
`postgres`), migrates it and fills it (setup, not measured) as a service that has run for a year
at one probe a minute per server would be: a weekly rollup per server and week and a daily one per
server and day (COPY), hourly
rollups for every server on the days where the measured windows start and end (a year of hourly
rollups would be 88 million rows at 10,000 servers; a read touches only its own key ranges), raw
probes of the current hour and of the partial hour where the 30-day window starts (through the
probe repository, so in whatever columns it stores), and the marks of the current hour, day and
week, which the rollup job has not reached yet. Then it times, through the real adapter:

- GetWebserverStats of a random server over 24 h, 30 d and 365 d (and per hour / per day);
- GET /stats?format=csv over 30 days, through the HTTP app, every server in one CSV;
- RollUpHistory rolling up the current hour (so far) of every server's raw probes.

Prints p50/p99; the goal is p99 < 50 ms for one server's year. The database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import gc
import io
import itertools
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient
from sqlalchemy import Engine

# A script beside this one (its directory is on sys.path when run), which mypy checks as a file.
from storage_benchmark import (  # type: ignore[import-not-found]
    DEFAULT_ADMIN_URL,
    fill,
    machine,
    report,
    scratch_database,
    timed,
)

from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.rollup_repository import encode_buckets
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.use_cases.rollup_reads import uptime_window, uptimes
from healthmon.application.use_cases.rollups import SETTLE, RollUpHistory
from healthmon.application.use_cases.statistics import GetWebserverStats
from healthmon.application.use_cases.webservers import GetWebserver, ListWebservers
from healthmon.container import build_container
from healthmon.domain.ids import WebserverId
from healthmon.domain.latency_sketch import LatencySketch
from healthmon.domain.probe import ProbeResult
from healthmon.domain.rollups import DAY, HOUR, WEEK, Granularity, Span, floor_to
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings

GOAL_YEAR_P99_MS = 50.0
PROBES_PER_HOUR = 60
# Distinct sketches the fill cycles through (a day's latencies of one server: lognormal around 80 ms).
TEMPLATES = 64
COPY_ROWS = 50_000
PAGE = 1000
ROLLUP_COLUMNS = "webserver_id, start, probes, successes, latency_max_ms, latency_buckets"


def sketch_template(rng: random.Random, probes: int) -> LatencySketch:
    """The latency sketch of `probes` responses, lognormal around 80 ms."""
    return LatencySketch.of(round(rng.lognormvariate(4.4, 0.25) * 1000) / 1000 for _ in range(probes))


def copy_rows(engine: Engine, table: str, lines: Iterator[str]) -> int:
    """COPY tab-separated lines into a table, in chunks; returns how many."""
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        while True:
            chunk = [line for _, line in zip(range(COPY_ROWS), lines, strict=False)]
            if not chunk:
                break
            cursor.copy_expert(
                f"COPY {table} ({ROLLUP_COLUMNS}) FROM STDIN",
                io.StringIO("".join(chunk)),
            )
            count += len(chunk)
        raw.commit()
    finally:
        raw.close()
    return count


def rollup_lines(
    servers: int, starts: list[datetime], templates: list[tuple[str, float]], probes: int
) -> Iterator[str]:
    for start in starts:
        stamp = start.isoformat()
        for server in range(1, servers + 1):
            buckets, maximum = templates[(server + start.toordinal()) % len(templates)]
            yield f"{server}\t{stamp}\t{probes}\t{probes - server % 3}\t{maximum}\t\\\\x{buckets}\n"


def fill_statistics(engine: Engine, servers: int, days: int, now: datetime) -> None:
    """Rollups, raw probes and marks for `servers` that have run `days` days (setup, not measured)."""
    rng = random.Random(7)
    today = floor_to(now, DAY)
    this_hour = floor_to(now, HOUR)
    daily_templates = [sketch_template(rng, 24 * PROBES_PER_HOUR) for _ in range(TEMPLATES)]
    hourly_templates = [sketch_template(rng, PROBES_PER_HOUR) for _ in range(TEMPLATES)]

    def encoded(sketches: list[LatencySketch]) -> list[tuple[str, float]]:
        return [(encode_buckets(sketch).hex(), sketch.max_ms or 0.0) for sketch in sketches]

    day_starts = [today - n * DAY for n in range(days, 0, -1)]
    started = time.perf_counter()
    daily = copy_rows(
        engine, "rollups_daily", rollup_lines(servers, day_starts, encoded(daily_templates), 1440)
    )
    this_week = floor_to(today, WEEK)
    week_starts = [this_week - n * WEEK for n in range(days // 7, 0, -1)]
    weekly_templates = [sketch_template(rng, 7 * 24 * PROBES_PER_HOUR) for _ in range(TEMPLATES // 4)]
    weekly = copy_rows(
        engine,
        "rollups_weekly",
        rollup_lines(
            servers,
            [start for start in week_starts if start >= day_starts[0]],
            encoded(weekly_templates),
            10080,
        ),
    )
    # Hourly rollups of the days where the 24 h, 30 d and 365 d windows start, and of today so far.
    edge_days = {
        floor_to(now - span, DAY) for span in (timedelta(hours=24), timedelta(days=30), timedelta(days=365))
    }
    hour_starts = sorted(
        {day + n * HOUR for day in edge_days for n in range(24)} | {today + n * HOUR for n in range(24)}
    )
    hour_starts = [start for start in hour_starts if start < this_hour]
    hourly = copy_rows(
        engine, "rollups_hourly", rollup_lines(servers, hour_starts, encoded(hourly_templates), 60)
    )
    print(
        f"  {weekly:,} weekly, {daily:,} daily and {hourly:,} hourly rollups copied in "
        f"{time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    edge = now - timedelta(days=30)
    raw_spans = [(this_hour, now), (edge, floor_to(edge, HOUR) + HOUR)]
    results = (
        ProbeResult.response(
            WebserverId(server),
            started_at=moment,
            latency_ms=round(rng.lognormvariate(4.4, 0.25), 3),
            status_code=200 if rng.random() > 0.01 else 503,
            timeout_seconds=10,
        )
        for start, end in raw_spans
        for minute in range(int((end - start) / timedelta(minutes=1)) + 1)
        if (moment := start + minute * timedelta(minutes=1)) < end
        for server in range(1, servers + 1)
    )
    sessions = create_session_factory(engine)
    stored = 0
    while batch := list(itertools.islice(results, 5000)):
        with SqlAlchemyUnitOfWork(sessions) as uow:
            uow.probe_results.add_many(batch)
            uow.commit()
        stored += len(batch)
    with SqlAlchemyUnitOfWork(sessions) as uow:
        # Where the job has got to: the current hour and day are still to roll up.
        uow.rollups.mark_hours([this_hour])
        uow.rollups.mark_day(today)
        uow.rollups.mark_week(this_week)
        uow.commit()
    print(f"  {stored:,} raw probes stored in {time.perf_counter() - started:.1f} s")
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        connection.exec_driver_sql("CHECKPOINT")


def measure(engine: Engine, url: str, servers: int, samples: int) -> None:
    rng = random.Random(42)
    sessions = create_session_factory(engine)
    stats = GetWebserverStats(SqlAlchemyUnitOfWork(sessions), SystemClock())
    for label, span, granularity, goal in (
        ("stats of one server, 24 h", timedelta(hours=24), Granularity.NONE, None),
        ("stats of one server, 24 h by hour", timedelta(hours=24), Granularity.HOUR, None),
        ("stats of one server, 30 d", timedelta(days=30), Granularity.NONE, None),
        ("stats of one server, 30 d by day", timedelta(days=30), Granularity.DAY, None),
        ("stats of one server, 365 d", timedelta(days=365), Granularity.NONE, GOAL_YEAR_P99_MS),
        ("stats of one server, 365 d by day", timedelta(days=365), Granularity.DAY, None),
    ):

        def one(span: timedelta = span, granularity: Granularity = granularity) -> None:
            now = datetime.now(UTC)
            stats.execute(
                WebserverId(rng.randint(1, servers)), start=now - span, end=now, granularity=granularity
            )

        report(label, timed(one, samples, 20), goal)

    # The data is whole: a year of one server counts a probe a minute (about 525,600).
    now = datetime.now(UTC)
    year = stats.execute(WebserverId(1), start=now - timedelta(days=365), end=now)
    print(f"  (one server's year: {year.probes:,} probes, uptime {year.uptime}, latency {year.latency})")

    # What uptime_24h adds to the listing and the details: the counts of 24 hours of many servers.
    listing = ListWebservers(SqlAlchemyUnitOfWork(sessions), SystemClock())
    page_after = [WebserverId(n * PAGE) for n in range(max(1, servers // PAGE))]

    def one_page() -> None:
        listing.execute(after=rng.choice(page_after), limit=PAGE)

    report(f"ListWebservers, a page of {PAGE:,} with uptime_24h", timed(one_page, max(10, samples // 10), 3))

    def page_uptimes() -> None:
        ids = [WebserverId(n) for n in range(1, min(servers, PAGE) + 1)]
        with SqlAlchemyUnitOfWork(sessions) as uow:
            uptimes(uow, ids, uptime_window(datetime.now(UTC)))

    report(f"  of which uptime_24h of {PAGE:,} servers", timed(page_uptimes, max(10, samples // 10), 3))
    details = GetWebserver(SqlAlchemyUnitOfWork(sessions), SystemClock())
    report(
        "GetWebserver (with uptime_24h)",
        timed(lambda: details.execute(WebserverId(rng.randint(1, servers))), samples, 20),
    )

    container = build_container(Settings(database_url=url))
    with TestClient(create_app(container), base_url="http://127.0.0.1:8000") as client:
        csv_ms: list[float] = []
        for _ in range(3):
            started = time.perf_counter()
            response = client.get("/stats", params={"format": "csv", "from": _ago(timedelta(days=30))})
            csv_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
        rows = response.text.count("\n") - 1
        print(
            f"GET /stats?format=csv, 30 d, {rows:,} rows, {len(response.content) / 1e6:.1f} MB: "
            f"{', '.join(f'{ms / 1000:.2f} s' for ms in csv_ms)}"
        )

    # The current hour, written so far (already marked): every server's raw probes of it.
    job = RollUpHistory(SqlAlchemyUnitOfWork(sessions))
    hour = floor_to(datetime.now(UTC), HOUR)
    with SqlAlchemyUnitOfWork(sessions) as uow:
        probes = sum(
            piece.probes
            for pieces in uow.rollups.raw(None, Span(hour, hour + HOUR), latency=False).values()
            for _, piece in pieces
        )
    started = time.perf_counter()
    outcome = job.run(hour + HOUR + SETTLE)
    print(
        f"RollUpHistory of one hour ({outcome.hours} hour, {probes:,} raw probes of every server): "
        f"{time.perf_counter() - started:.2f} s"
    )


def _ago(span: timedelta) -> str:
    return (datetime.now(UTC) - span).isoformat().replace("+00:00", "Z")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of daily rollups")
    parser.add_argument("--samples", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    with scratch_database(admin_url, keep=arguments.keep) as url:
        upgrade_database(url)
        engine = create_database_engine(url)
        try:
            print(
                f"healthmon stats benchmark: {machine(url)}, "
                f"load average {os.getloadavg()[0]:.1f}, {arguments.servers:,} webservers, "
                f"{arguments.days} days of rollups"
            )
            started = time.perf_counter()
            fill(engine, arguments.servers, 0)
            fill_statistics(engine, arguments.servers, arguments.days, datetime.now(UTC))
            print(f"setup (not measured): {time.perf_counter() - started:.1f} s")
            gc.collect()
            gc.freeze()
            measure(engine, url.render_as_string(hide_password=False), arguments.servers, arguments.samples)
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
