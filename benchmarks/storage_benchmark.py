"""Storage benchmark on PostgreSQL: size, reads, ingest and retention; 10,000 webservers, 5M requests.

    .venv/bin/python benchmarks/storage_benchmark.py [--servers 10000 --requests 5000000] [--keep]
                                                     [--no-gc-freeze] [--no-old-layout]
                                                     [--no-ingest-baseline]

Figures: bytes per probe row with its indexes (pg_total_relation_size over every partition), beside
the layout before migration 0006 filled with the same rows in a table of its own (--no-old-layout
skips that); reads; ingest rows/s through RecordProbeResults, the worker's writer (batches of
1,000, its default), after the same ingest with the webservers table's pages full as they were
before migration 0010 gave them room for updates (--no-ingest-baseline skips that); and retention
dropping one expired day's partition: how long it takes, and that what remains carries no dead rows
(nothing to VACUUM).

Creates a scratch database on the server of HEALTHMON_TEST_POSTGRES_URL (default: the local one as
`postgres`), migrates it, fills it with generated rows (INSERT ... SELECT generate_series, not
measured), runs ANALYZE, then times the use cases through the real adapter and prints p50/p99
against the goals. The database is dropped at the end unless --keep is given.

After its setup the benchmark calls gc.freeze(), as `healthmon serve` and `healthmon worker` do
after start-up (healthmon.entrypoints.cli), so it measures under the conditions of the service:
the objects that live as long as the process are not scanned by every full collection.
--no-gc-freeze measures without that, to show how much of a figure the freeze accounts for.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Integer, String, case, cast, func, insert, literal, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.converters import ERROR_KIND_CODES
from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory, database_url
from healthmon.adapters.sqlalchemy.history_storage import PostgresHistoryStorage
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.tables import WEBSERVERS_FILLFACTOR, requests_table, webservers_table
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.ports import HistoryCursor
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import GetWebserver, ListWebservers
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ErrorKind, ProbeResult

DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
# The generated history starts here; each server gets one probe per PROBE_INTERVAL after it. At 16:00
# yesterday (UTC), so that 5M probes of 10,000 servers (8 h 20 min) run into today's partition, as a
# live history does: the last probes are today's, and yesterday's partition is whole for retention.
HISTORY_START = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC) - timedelta(
    hours=8
)
BYTES_PER_ROW_GOAL = 80
PROBE_INTERVAL = timedelta(seconds=60)
GOALS_MS = {"get one": 5.0, "list 10k": 50.0}
INGEST_GOAL_ROWS_PER_SECOND = 20_000
PAGE = 1000


@contextmanager
def scratch_database(admin_url: URL, *, keep: bool) -> Iterator[URL]:
    """A new database on the admin URL's server; dropped on exit unless kept."""
    name = f"healthmon_bench_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_database_engine(admin_url, pool_size=1)
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name)
        finally:
            if keep:
                print(f"kept database {name}")
            else:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def history_end(servers: int, requests: int) -> datetime:
    """The start of the generated history's last probe."""
    return HISTORY_START + PROBE_INTERVAL * ((requests - 1) // servers)


def fill(engine: Engine, servers: int, requests: int) -> None:
    """Generate the webservers and their request history inside the database (setup, not measured)."""
    w, r = webservers_table.c, requests_table.c
    # The history's days get their partitions as the periodic job would have made them.
    PostgresHistoryStorage(create_session_factory(engine)).prepare(
        HISTORY_START.date(), history_end(servers, requests).date()
    )
    n = func.generate_series(1, servers).table_valued("n").render_derived()
    now = func.now()
    state = n.c.n % 3
    webservers = select(
        n.c.n,
        literal("server ") + cast(n.c.n, String),
        literal("http://server-") + cast(n.c.n, String) + literal(".bench.test/health"),
        literal(60),
        literal(10),
        literal(5),
        literal(3),
        literal(True),
        literal(True),
        case((state == 0, "healthy"), (state == 1, "unhealthy"), else_="unknown"),
        case((state == 0, 7), else_=0),
        case((state == 1, 4), else_=0),
        now,
        # The last probe of the generated history, so results recorded after it are not stale.
        literal(HISTORY_START + PROBE_INTERVAL * (requests // servers)),
        now,
        now,
    )
    g = func.generate_series(1, requests).table_valued("g").render_derived()
    ok = g.c.g % 10 != 0
    refused = g.c.g % 20 == 0
    history = select(
        (g.c.g - 1) % servers + 1,
        literal(HISTORY_START) + func.make_interval(0, 0, 0, 0, 0, 0, ((g.c.g - 1) // servers) * 60),
        cast(func.random() * 100_000, Integer),
        case((refused, None), (ok, 200), else_=500),
        case((refused, ERROR_KIND_CODES[ErrorKind.CONNECTION_REFUSED]), else_=None),
        case((refused, "Connection refused"), else_=None),
        ok,
    )
    with engine.begin() as connection:
        connection.execute(
            insert(webservers_table).from_select(
                [
                    w.id,
                    w.name,
                    w.url,
                    w.interval_seconds,
                    w.timeout_seconds,
                    w.healthy_threshold,
                    w.unhealthy_threshold,
                    w.follow_redirects,
                    w.verify_tls,
                    w.health,
                    w.consecutive_successes,
                    w.consecutive_failures,
                    w.health_changed_at,
                    w.last_checked_at,
                    w.created_at,
                    w.updated_at,
                ],
                webservers,
            )
        )
        connection.exec_driver_sql(f"SELECT setval('webservers_id_seq', {servers})")
        # Rows are consistent by construction; skipping the per-row foreign key trigger (a
        # superuser-only setting, reset at commit) makes the fill several times faster.
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(
            insert(requests_table).from_select(
                [
                    r.webserver_id,
                    r.started_at,
                    r.latency_us,
                    r.status_code,
                    r.error_kind,
                    r.error_message,
                    r.success,
                ],
                history,
            )
        )
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) webservers, requests")
        # Write out what the fill dirtied now, so that a checkpoint it triggered does not compete
        # with the measurements for the disk (superuser-only, like the setting above).
        connection.exec_driver_sql("CHECKPOINT")


_PARTITIONS = (
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST('requests' AS regclass)"
)


def history_sizes(engine: Engine) -> tuple[int, int, int]:
    """Bytes of the history over every partition: in all (pg_total_relation_size), heap, indexes."""
    with engine.connect() as connection:
        total, heap, indexes = connection.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)), sum(pg_relation_size(c.oid)), "
                f"sum(pg_indexes_size(c.oid)) {_PARTITIONS}"
            )
        ).one()
    return int(total), int(heap), int(indexes)


def report_bytes_per_row(engine: Engine, requests: int, *, old_layout: bool) -> None:
    """Print the bytes per probe row, with the old layout's beside them when asked."""
    total, heap, indexes = history_sizes(engine)
    verdict = "met" if total / requests <= BYTES_PER_ROW_GOAL else "MISSED"
    print(
        f"bytes per probe row at {requests:,} rows: {total / requests:.1f} "
        f"(heap {heap / requests:.1f}, indexes {indexes / requests:.1f}; "
        f"{total / 1e6:,.0f} MB in all)   goal <= {BYTES_PER_ROW_GOAL}: {verdict}"
    )
    if old_layout:
        old = old_layout_bytes(engine, requests)
        print(f"  the layout before migration 0006, same rows: {old / requests:.1f} bytes per row")


# The requests table as migrations 0001-0003 made it, beside the new one for comparison.
_OLD_LAYOUT = """
CREATE TABLE requests_old_layout (
    id BIGSERIAL PRIMARY KEY,
    webserver_id INTEGER NOT NULL REFERENCES webservers (id) ON DELETE CASCADE,
    started_at TIMESTAMPTZ NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL CHECK (latency_ms >= 0),
    status_code INTEGER,
    error_kind VARCHAR(32),
    error_message TEXT,
    success BOOLEAN NOT NULL,
    CHECK ((status_code IS NULL) <> (error_kind IS NULL)),
    CHECK (NOT success OR (status_code >= 200 AND status_code <= 299))
);
CREATE INDEX ON requests_old_layout (webserver_id, started_at DESC, id DESC);
"""


def old_layout_bytes(engine: Engine, requests: int) -> int:
    """Fill the old layout's table with the same rows in the same order; its size, then drop it."""
    with engine.begin() as connection:
        connection.exec_driver_sql(_OLD_LAYOUT)
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql(
            "INSERT INTO requests_old_layout (webserver_id, started_at, latency_ms, status_code, error_kind, "
            "error_message, success) SELECT webserver_id, started_at, latency_us / 1000.0, status_code, "
            "CASE WHEN error_kind IS NULL THEN NULL ELSE 'connection_refused' END, error_message, success "
            "FROM requests ORDER BY started_at, webserver_id"
        )
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) requests_old_layout")
        size = connection.execute(text("SELECT pg_total_relation_size('requests_old_layout')")).scalar_one()
        connection.exec_driver_sql("DROP TABLE requests_old_layout")
        connection.exec_driver_sql("CHECKPOINT")
    return int(size)


def drop_one_day(engine: Engine) -> None:
    """Prune the history's first day as retention would: time the drop, and look for dead rows after."""
    sessions = create_session_factory(engine)
    storage = PostgresHistoryStorage(sessions)
    first_day = HISTORY_START.date()
    partition = f"requests_p{first_day:%Y%m%d}"
    with engine.connect() as connection:
        size, rows = connection.execute(
            text(f"SELECT pg_total_relation_size('{partition}'), count(*) FROM {partition}")
        ).one()
    before, _, _ = history_sizes(engine)
    start = time.perf_counter()
    outcome = storage.prune(datetime.combine(first_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
    elapsed = time.perf_counter() - start
    after, _, _ = history_sizes(engine)
    with engine.connect() as connection:
        dead, live = connection.execute(
            text(
                "SELECT coalesce(sum(s.n_dead_tup), 0), coalesce(sum(s.n_live_tup), 0) "
                f"FROM pg_stat_user_tables s WHERE s.relid IN (SELECT c.oid {_PARTITIONS})"
            )
        ).one()
    print(
        f"retention: dropped {outcome.partitions} day partition ({rows:,} rows, {size / 1e6:,.0f} MB) in "
        f"{elapsed * 1000:,.0f} ms; history {before / 1e6:,.0f} MB -> {after / 1e6:,.0f} MB "
        f"(freed {(before - after) / 1e6:,.0f} MB, the partition's whole size); remaining partitions: "
        f"{live:,} live rows, {dead:,} dead rows (nothing for VACUUM)"
    )


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples (0.0 when there are none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def p99(samples_ms: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    return percentile(samples_ms, 0.99)


def report(label: str, samples_ms: list[float], goal_ms: float | None = None) -> None:
    """Print p50 and p99 of the samples, and the verdict when there is a goal."""
    line = f"{label:<48} p50 {statistics.median(samples_ms):7.2f} ms   p99 {p99(samples_ms):7.2f} ms"
    line += f"   (n={len(samples_ms)})"
    if goal_ms is not None:
        line += f"   goal p99 < {goal_ms:g} ms: {'met' if p99(samples_ms) < goal_ms else 'MISSED'}"
    print(line)


def machine(url: str | URL) -> str:
    """The platform, CPUs, Python and PostgreSQL versions."""
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            server_version = connection.exec_driver_sql("SHOW server_version").scalar_one()
    finally:
        engine.dispose()
    return (
        f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, PostgreSQL {server_version}"
    )


def timed(action: Callable[[], object], samples: int, warmup: int) -> list[float]:
    """Milliseconds per call, after some untimed warm-up calls."""
    for _ in range(warmup):
        action()
    result = []
    for _ in range(samples):
        start = time.perf_counter()
        action()
        result.append((time.perf_counter() - start) * 1000)
    return result


class Bench:
    """The measurements, on one migrated and filled database."""

    def __init__(self, sessions: sessionmaker[Session], servers: int, requests: int, samples: int) -> None:
        self.sessions = sessions
        self.servers = servers
        self.requests = requests
        self.samples = samples
        self.rng = random.Random(42)

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.sessions)

    def get_one(self) -> None:
        get = GetWebserver(self.uow(), SystemClock())
        samples = timed(lambda: get.execute(WebserverId(self.rng.randint(1, self.servers))), self.samples, 50)
        report("GetWebserver (webserver + last 10 requests)", samples, GOALS_MS["get one"])

    def list_all(self) -> None:
        listing = ListWebservers(self.uow(), SystemClock())
        pages: list[float] = []

        def walk() -> None:
            after: WebserverId | None = None
            while True:
                start = time.perf_counter()
                page = listing.execute(after=after, limit=PAGE)
                pages.append((time.perf_counter() - start) * 1000)
                if page.next_cursor is None:
                    return
                after = page.next_cursor

        walk()
        pages.clear()
        # 200 samples (at the default --samples), so that p99 is the 198th of 200 rather than
        # the worst of 50: on a shared 2-core machine one preempted call would otherwise be it.
        walks = timed(walk, max(10, self.samples // 5), warmup=0)
        report(f"ListWebservers, one page of {PAGE}", pages)
        report(f"ListWebservers, all {self.servers} in pages of {PAGE}", walks, GOALS_MS["list 10k"])

        def in_one_call() -> None:
            with self.uow() as uow:
                uow.webservers.list(limit=self.servers)

        calls = max(20, self.samples // 5)
        report(
            f"repository list(limit={self.servers}), one call",
            timed(in_one_call, calls, 3),
            GOALS_MS["list 10k"],
        )

    def history_page(self) -> None:
        per_server = self.requests // self.servers
        cursors: list[tuple[WebserverId, HistoryCursor]] = []
        with self.uow() as uow:
            for number in self.rng.sample(range(1, self.servers + 1), 200):
                webserver_id = WebserverId(number)
                middle = uow.probe_results.history(webserver_id, limit=max(1, per_server // 2))[-1]
                cursors.append((webserver_id, HistoryCursor(middle.result.started_at, middle.id)))
        history = ListProbeHistory(self.uow())

        def page() -> None:
            webserver_id, cursor = self.rng.choice(cursors)
            history.execute(webserver_id, before=cursor, limit=100)

        report("ListProbeHistory, 100 from mid-history", timed(page, self.samples, 50))

    def ingest_beside_full_pages(self, engine: Engine, *, baseline: bool) -> None:
        """The ingest figure; first, when asked, the same ingest with webservers pages full, as before 0010.

        Each run starts from the webservers as the fill left them (health, streaks, last check),
        rewritten by VACUUM FULL at the fillfactor in force, so both record the same transitions
        from the same state; the baseline's results start an hour later, after the first's.
        """
        columns = "health, consecutive_successes, consecutive_failures, health_changed_at, last_checked_at"
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE bench_webserver_state AS SELECT id, {columns} FROM webservers"
            )

        def restore(fillfactor: int) -> None:
            assigned = ", ".join(f"{name} = s.{name}" for name in columns.split(", "))
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    f"UPDATE webservers w SET {assigned} FROM bench_webserver_state s WHERE w.id = s.id"
                )
            with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
                connection.exec_driver_sql(f"ALTER TABLE webservers SET (fillfactor = {fillfactor})")
                connection.exec_driver_sql("VACUUM (FULL, ANALYZE) webservers")
                connection.exec_driver_sql("CHECKPOINT")

        try:
            if baseline:
                restore(100)
                self.ingest(
                    label="  the same with webservers pages full (fillfactor 100, before 0010)", hours_later=1
                )
            restore(WEBSERVERS_FILLFACTOR)
            self.ingest()
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE bench_webserver_state")

    def ingest(self, batches: int = 50, *, label: str = "", hours_later: int = 0) -> None:
        record = RecordProbeResults(self.uow())
        size = min(1000, self.servers)
        after_history = HISTORY_START + PROBE_INTERVAL * (self.requests // self.servers + 1)
        after_history += timedelta(hours=hours_later)

        def batch(number: int) -> list[ProbeResult]:
            first = number * size
            return [
                ProbeResult.response(
                    WebserverId((first + k) % self.servers + 1),
                    started_at=after_history + timedelta(seconds=number),
                    latency_ms=12.5,
                    status_code=200 if k % 7 else 503,
                    timeout_seconds=10,
                )
                for k in range(size)
            ]

        # As the worker's writer calls it: each result with its lease epoch (the fill's servers are at 0).
        record.execute(batch(0), epochs=[0] * size)
        prepared = [batch(number) for number in range(1, batches + 1)]
        stored = 0
        per_batch: list[float] = []
        for results in prepared:
            start = time.perf_counter()
            stored += record.execute(results, epochs=[0] * len(results)).stored
            per_batch.append((time.perf_counter() - start) * 1000)
        rate = stored / (sum(per_batch) / 1000)
        verdict = "met" if rate >= INGEST_GOAL_ROWS_PER_SECOND else "MISSED"
        print(
            label or f"RecordProbeResults, {batches} batches of {size} results for {size} servers:",
            f"{rate:,.0f} rows/s (per batch p50 {statistics.median(per_batch):.1f} ms, "
            f"p99 {p99(per_batch):.1f} ms)   goal >= {INGEST_GOAL_ROWS_PER_SECOND:,} rows/s: {verdict}",
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=1000, help="timed calls per single-call measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="do not call gc.freeze() after the setup (the service does; this shows what it is worth)",
    )
    parser.add_argument(
        "--no-old-layout",
        dest="old_layout",
        action="store_false",
        help="do not fill the layout before migration 0006 for its bytes per row (saves a minute)",
    )
    parser.add_argument(
        "--no-ingest-baseline",
        dest="ingest_baseline",
        action="store_false",
        help="do not measure the ingest with full webservers pages first (as before migration 0010)",
    )
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))

    with scratch_database(admin_url, keep=arguments.keep) as url:
        upgrade_database(url)
        engine = create_database_engine(url)
        try:
            print(
                f"healthmon storage benchmark: {machine(url)}, "
                f"{arguments.servers:,} webservers, {arguments.requests:,} requests, "
                f"gc.freeze() after setup: {'yes' if arguments.gc_freeze else 'no'}"
            )
            start = time.perf_counter()
            fill(engine, arguments.servers, arguments.requests)
            elapsed = time.perf_counter() - start
            print(f"fill + VACUUM ANALYZE + CHECKPOINT (setup, not measured): {elapsed:.1f} s")
            bench = Bench(
                create_session_factory(engine), arguments.servers, arguments.requests, arguments.samples
            )
            if arguments.gc_freeze:
                # As healthmon.entrypoints.cli does once the service is set up: what is alive now
                # lives as long as the process, so the collector stops scanning it.
                gc.collect()
                gc.freeze()
            bench.get_one()
            bench.list_all()
            report_bytes_per_row(engine, arguments.requests, old_layout=arguments.old_layout)
            bench.history_page()
            bench.ingest_beside_full_pages(engine, baseline=arguments.ingest_baseline)
            drop_one_day(engine)
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
