"""Worker benchmark: the real worker on one core, beside a bare aiohttp loop doing the same probes.

    .venv/bin/python benchmarks/worker_benchmark.py                  # the full run, about 16 minutes
    .venv/bin/python benchmarks/worker_benchmark.py --duration 30 --soak 30 --rates 2000   # a quick look
    .venv/bin/python benchmarks/worker_benchmark.py --https ...                          # over TLS

For each offered rate (--rates, default 500, 2000 and 3000 probes/s: that many servers times
--interval, 10 s) it registers the servers in a scratch PostgreSQL database (HEALTHMON_TEST_POSTGRES_URL)
or a temporary SQLite file, then runs, each in a process of its own pinned to one core (--core):

- the bare loop: plain aiohttp on the default event loop, the same servers on the same grid, a new
  connection per probe, no database, no health;
- the real worker, as the container builds it and `healthmon worker` runs it (with its alert
  deliveries and periodic jobs), storing every result.

Each runs --warmup seconds (the first interval, while first probes spread out) and is then measured
for --duration seconds (the worker at --soak-rate for --soak seconds instead: the RSS run). It prints,
per run: probes/s, CPU per probe (user + system of the whole process, threads included), the ratio
worker/bare at the same rate, schedule lag (actual start minus planned start) p50/p99/max, the largest
gap between two probes of one server, results stored/taken, and RSS over time.

The targets are --targets processes sharing one loopback port (each answers 200 and closes), pinned
to the other cores; their CPU is printed beside each run, so a target near 100 % of a core would show
it is the bottleneck rather than the prober.

--https serves the targets over TLS with a certificate from a throwaway CA (trustme) that both
clients trust: every probe, of the worker and of the bare loop, is a new connection with a full
handshake (no session is reused), and the worker also reads each peer certificate's expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import math
import multiprocessing
import os
import platform
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from dependency_injector import providers
from sqlalchemy import func, select

from healthmon.adapters.aiohttp_prober import open_client_session
from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.tables import requests_table
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.monitoring.metrics import PROBE_LAG, PROBES_FINISHED, RESULTS_STORED
from healthmon.application.monitoring.schedule import first_offset
from healthmon.application.ports import Metric, Metrics
from healthmon.container import build_container
from healthmon.domain.health import HEALTHY_AFTER
from healthmon.domain.webserver import WebserverId, WebserverSettings
from healthmon.entrypoints.event_loop import run
from healthmon.entrypoints.garbage_collector import settle_collector
from healthmon.entrypoints.worker import run_monitor, start_deliveries, start_jobs
from healthmon.settings import Settings

try:
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, scratch_database
except ModuleNotFoundError:  # python benchmarks/worker_benchmark.py: this directory is on sys.path
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        scratch_database,
    )

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
# Both the worker and the bare loop run at most this many probes at once.
CONCURRENCY = 500
RSS_EVERY_SECONDS = 10.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


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


def _serve_targets(sock: socket.socket, cores: set[int] | None, tls: ssl.SSLContext | None) -> None:
    if cores:
        os.sched_setaffinity(0, cores)

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
def target_processes(
    count: int = 1, cores: set[int] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[int, list[int]]]:
    """`count` child processes answering 200 on one loopback port (they share the listening socket).

    Yields the port and the processes' ids (to read their CPU).
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_serve_targets, args=(sock, cores, tls), daemon=True) for _ in range(count)
    ]
    for process in processes:
        process.start()
    sock.close()
    try:
        yield port, [process.pid for process in processes if process.pid is not None]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(5)


@contextlib.contextmanager
def target_process(tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """One target process on a loopback port (TLS with tls); yields the port."""
    with target_processes(1, tls=tls) as (port, _):
        yield port


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


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user, system; every thread) used so far by this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by another process (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    """This process's resident set now, in MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_SIZE / 2**20


class LagHistogram:
    """Schedule lags in fixed 0.1 ms buckets (and an overflow): constant memory however long the run."""

    RESOLUTION = 1e-4
    BUCKETS = 600_000  # one minute

    def __init__(self) -> None:
        self.counts = [0] * (self.BUCKETS + 1)
        self.count = 0
        self.maximum = 0.0

    def add(self, seconds: float) -> None:
        """Count one lag."""
        self.counts[min(self.BUCKETS, int(seconds / self.RESOLUTION))] += 1
        self.count += 1
        self.maximum = max(self.maximum, seconds)

    def percentile(self, fraction: float) -> float:
        """The nearest-rank percentile, to the bucket's upper edge (0.0 with no samples)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        for bucket, seen in enumerate(itertools.accumulate(self.counts)):
            if seen >= rank:
                return min(self.maximum, (bucket + 1) * self.RESOLUTION)
        return self.maximum


class LagRecordingMetrics(Metrics):
    """The worker's own metrics (Prometheus, as it runs), also counting what the benchmark reads back.

    Every schedule lag is counted in the window for percentiles; probes finished and results stored
    are counted for the whole run.
    """

    def __init__(self, inner: Metrics) -> None:
        self._inner = inner
        self.lags = LagHistogram()
        self.recording = False
        self.finished = 0
        self.stored = 0

    def add(self, metric: Metric, amount: float = 1, label: str | None = None) -> None:
        self._inner.add(metric, amount, label)
        if metric is PROBES_FINISHED:
            self.finished += int(amount)
        elif metric is RESULTS_STORED:
            self.stored += int(amount)

    def set(self, metric: Metric, value: float) -> None:
        self._inner.set(metric, value)

    def observe(self, metric: Metric, value: float) -> None:
        self._inner.observe(metric, value)
        if self.recording and metric is PROBE_LAG:
            self.lags.add(value)


@dataclass
class Window:
    """What one run measured after its warm-up."""

    probes: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    # Of which in the kernel (sockets, epoll; on loopback also the target's side of each packet).
    system: float = 0.0
    lags: LagHistogram = field(default_factory=LagHistogram)
    # Request to response headers, of the bare loop's probes (the worker's are in its history).
    latencies: LagHistogram = field(default_factory=LagHistogram)
    largest_gap: float = 0.0
    servers_late: int = 0
    taken: int = 0
    stored: int = 0
    rss: list[tuple[float, float]] = field(default_factory=list)
    gc_seconds: float = 0.0
    gc_by_generation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    target_cpu: list[float] = field(default_factory=list)
    # The bare loop's last start of each server, for its gaps (the worker's come from its history).
    last_start: dict[int, float] = field(default_factory=dict)

    def started(self, server: int, now: float, interval: int) -> None:
        """A probe of this server started now: count the gap since its previous one."""
        previous = self.last_start.get(server)
        if previous is not None:
            self.largest_gap = max(self.largest_gap, now - previous)
            self.servers_late += now - previous > interval + 1
        self.last_start[server] = now


async def _sample_rss(window: Window, start: float) -> None:
    while True:
        window.rss.append((time.monotonic() - start, rss_mib()))
        await asyncio.sleep(RSS_EVERY_SECONDS)


async def _measure(
    window: Window, warmup: float, duration: float, probes: Callable[[], float], on_start: Callable[[], None]
) -> None:
    """Sleep through the warm-up, then measure CPU and probes over `duration` seconds."""
    start = time.monotonic()
    sampler = asyncio.create_task(_sample_rss(window, start))
    await asyncio.sleep(warmup)
    on_start()
    collecting = [0.0]

    # The CPU time of the collecting thread: wall time would count the core being taken away too.
    def time_collections(phase: str, info: dict[str, int]) -> None:
        collecting[0] = time.thread_time() - collecting[0] if phase == "stop" else time.thread_time()
        if phase == "stop":
            window.gc_seconds += collecting[0]
            window.gc_by_generation[info["generation"]] += collecting[0]

    gc.callbacks.append(time_collections)
    (user, system), count, began = cpu_seconds(), probes(), time.monotonic()
    await asyncio.sleep(duration)
    user_after, system_after = cpu_seconds()
    window.cpu = user_after - user + system_after - system
    window.system = system_after - system
    gc.callbacks.remove(time_collections)
    window.probes = int(probes() - count)
    window.seconds = time.monotonic() - began
    sampler.cancel()
    window.rss.append((time.monotonic() - start, rss_mib()))


async def run_worker(url: str, warmup: float, duration: float, tls: ssl.SSLContext | None = None) -> Window:
    """The real worker, built by the container, over every server in the database."""
    # The summary interval left at its default: the summary holds a minute of lags, and a longer
    # one would show in RSS as a growth the worker never has.
    settings = Settings(database_url=url, max_concurrent_probes=CONCURRENCY, max_probes_per_host=CONCURRENCY)
    container = build_container(settings)
    # The container's own metrics (as `healthmon worker` has them), wrapped to read figures back.
    metrics = LagRecordingMetrics(container.metrics())
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
    window = Window(lags=metrics.lags)
    # As `healthmon worker` does once started (entrypoints/cli.py).
    settle_collector()
    await container.init_resources()  # type: ignore[misc]
    try:
        # What `healthmon worker` runs (entrypoints/worker.py): the monitor, the alert deliveries
        # and the periodic jobs, all in this process and counted in its CPU.
        stop = asyncio.Event()
        deliveries = await start_deliveries(container, stop)
        jobs = start_jobs(container, stop)
        task = asyncio.create_task(run_monitor(container, stop))

        def start_recording() -> None:
            metrics.recording = True

        await _measure(window, warmup, duration, lambda: metrics.finished, start_recording)
        metrics.recording = False
        stop.set()
        await asyncio.gather(task, deliveries, jobs)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
    window.taken = metrics.finished
    window.stored = metrics.stored
    return window


@dataclass(frozen=True)
class Target:
    """Where the targets listen, and the client context that trusts them over TLS (None: plain HTTP)."""

    port: int
    tls: ssl.SSLContext | None = None

    def url(self, n: int) -> str:
        """The URL of target n."""
        return f"{'http' if self.tls is None else 'https'}://127.0.0.1:{self.port}/t/{n}"


async def run_bare_loop(
    target: Target, servers: int, interval: int, warmup: float, duration: float
) -> Window:
    """The same servers on the same grid, probed by plain aiohttp: no database, no health, no limits."""
    loop = asyncio.get_running_loop()
    window = Window()
    connector = aiohttp.TCPConnector(
        limit=CONCURRENCY, limit_per_host=CONCURRENCY, force_close=True, ssl=target.tls or True
    )
    slots = asyncio.Semaphore(CONCURRENCY)
    done = 0
    recording = False
    tasks: set[asyncio.Task[None]] = set()
    end = warmup + duration + interval

    async def probe(session: aiohttp.ClientSession, n: int, planned: float) -> None:
        nonlocal done
        try:
            now = loop.time()
            if recording:
                window.lags.add(now - planned)
            window.started(n, now, interval)
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(target.url(n)) as response:
                    response.close()
            if recording:
                window.latencies.add(loop.time() - now)
            done += 1
        finally:
            slots.release()

    async def schedule(session: aiohttp.ClientSession) -> None:
        start = loop.time()
        plan = sorted(
            (start + first_offset(WebserverId(n + 1), interval) + k * interval, n)
            for n in range(servers)
            for k in range(math.ceil(end / interval) + 1)
        )
        # The plan lives as long as the run, like the worker's servers: frozen as the worker freezes
        # those, or every full collection walks it (which slowed this loop more than its probes).
        gc.collect()
        gc.freeze()
        for planned, n in plan:
            if planned - start > end:
                break
            delay = planned - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # A task only once a slot is free: behind, the backlog stays in the plan rather than
            # piling up as tasks waiting on the semaphore (which collapsed the loop under load).
            await slots.acquire()
            task = asyncio.create_task(probe(session, n, planned))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def start_recording() -> None:
        nonlocal recording
        recording = True

    async with aiohttp.ClientSession(connector=connector) as session:
        probing = asyncio.create_task(schedule(session))
        await _measure(window, warmup, duration, lambda: done, start_recording)
        probing.cancel()
        for task in (probing, *tasks):
            task.cancel()
        await asyncio.gather(probing, *tasks, return_exceptions=True)
    window.taken = window.stored = done
    window.last_start.clear()
    return window


Job = Callable[..., Coroutine[Any, Any, Window]]


def _child(core: int | None, results: Queue[Window], job: Job, arguments: tuple[Any, ...], loop: str) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    results.put(run(job(*arguments), loop))


def in_pinned_process(
    core: int | None,
    target_pids: list[int],
    job: Job,
    arguments: tuple[Any, ...],
    *,
    profile: str | None = None,
    loop: str = "asyncio",
) -> Window:
    """Run the job on `loop` in a fresh process pinned to `core`; its window, with the targets' CPU."""
    context = multiprocessing.get_context("fork")
    results: Queue[Window] = context.Queue()
    process = context.Process(target=_child, args=(core, results, job, arguments, loop))
    targets_before = [process_cpu_seconds(pid) for pid in target_pids]
    began = time.monotonic()
    process.start()
    spy = None
    if profile:
        # Sampled without pausing the process (its CPU stays its own); collapsed stacks, one per line.
        command = [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--nonblocking",
            "--format",
            "raw",
            "--rate",
            "200",
        ]
        spy = subprocess.Popen(
            [*command, "--output", profile, "--pid", str(process.pid)], stdout=subprocess.DEVNULL
        )
    window = results.get()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    process.join(60)
    elapsed = time.monotonic() - began
    window.target_cpu = [
        100 * (process_cpu_seconds(pid) - before) / elapsed
        for pid, before in zip(target_pids, targets_before, strict=True)
    ]
    return window


def register(url: str, target: Target, servers: int, interval: int) -> None:
    """N webservers, one path each on the target (setup, not measured)."""
    engine = create_database_engine(url, pool_size=1)
    try:
        with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            for n in range(servers):
                settings = WebserverSettings(name=f"target {n}", url=target.url(n), interval_seconds=interval)
                uow.webservers.add(settings, datetime.now(UTC))
            uow.commit()
    finally:
        engine.dispose()


def stored_history(url: str, interval: int, window: Window) -> None:
    """Fill in the largest gap between two stored probes of one server, and the rows stored."""
    engine = create_database_engine(url, pool_size=1)
    r = requests_table.c
    try:
        with engine.connect() as connection:
            gaps = (
                select(
                    (
                        r.started_at
                        - func.lag(r.started_at).over(partition_by=r.webserver_id, order_by=r.started_at)
                    ).label("gap")
                )
            ).subquery()
            rows = connection.execute(select(func.count()).select_from(requests_table)).scalar_one()
            if engine.dialect.name == "postgresql":
                seconds = func.extract("epoch", gaps.c.gap)
                late = connection.execute(
                    select(func.max(seconds), func.count().filter(seconds > interval + 1))
                ).one()
                window.largest_gap, window.servers_late = float(late[0] or 0.0), int(late[1])
            else:
                window.largest_gap, window.servers_late = _gaps_in_python(connection, interval)
    finally:
        engine.dispose()
    window.stored = int(rows)


def _gaps_in_python(connection: Any, interval: int) -> tuple[float, int]:
    r = requests_table.c
    largest, late, previous = 0.0, 0, (None, 0.0)
    for webserver_id, started_at in connection.execute(
        select(r.webserver_id, r.started_at).order_by(r.webserver_id, r.started_at)
    ):
        at = started_at.timestamp()
        if previous[0] == webserver_id:
            largest = max(largest, at - previous[1])
            late += at - previous[1] > interval + 1
        previous = (webserver_id, at)
    return largest, late


def _print_window(label: str, window: Window, interval: int) -> None:
    per_probe = 1000 * window.cpu / max(window.probes, 1)
    lags = window.lags
    print(f"  {label}")
    print(
        f"    {window.probes / window.seconds:8.1f} probes/s   "
        f"CPU {100 * window.cpu / window.seconds:5.1f} % of a core   {per_probe:.3f} ms CPU per probe "
        f"({1000 * window.system / max(window.probes, 1):.3f} ms of it in the kernel)"
    )
    print(
        f"    lag p50/p99/max {1000 * lags.percentile(0.5):.1f} / {1000 * lags.percentile(0.99):.1f} / "
        f"{1000 * lags.maximum:.1f} ms   largest gap {window.largest_gap:.2f} s "
        f"({window.servers_late} gaps over interval + 1 s = {interval + 1} s)"
    )
    rss = "  ".join(f"{at:.0f}s:{mib:.0f}" for at, mib in window.rss)
    print(f"    stored/taken {window.stored}/{window.taken}   RSS MiB over time {rss}")
    if window.latencies.count:
        latencies = window.latencies
        print(
            f"    probe latency p50/p99 {1000 * latencies.percentile(0.5):.1f} / "
            f"{1000 * latencies.percentile(0.99):.1f} ms (a slow target would show here)"
        )
    by_generation = " / ".join(f"{1000 * spent / window.seconds:.0f}" for spent in window.gc_by_generation)
    print(
        f"    garbage collector {1000 * window.gc_seconds / window.seconds:.0f} ms of CPU a second "
        f"(generations 0 / 1 / 2: {by_generation})"
    )
    print(f"    targets' CPU (% of a core each): {', '.join(f'{cpu:.0f}' for cpu in window.target_cpu)}")


def print_profile(path: str, top: int = 25) -> None:
    """The functions with the most samples in a py-spy raw profile: on CPU themselves, and below them."""
    own: Counter[str] = Counter()
    below: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [
            frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].rstrip(")") for frame in stack.split(";")
        ]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            below[frame] += samples
    print(f"  profile {path}: {total} samples")
    for title, counter in (("self", own), ("inclusive", below)):
        print(f"    top {top} by {title}:")
        # The frames under which everything runs (the process, the event loop) say nothing.
        telling = [(frame, samples) for frame, samples in counter.most_common() if samples < 0.6 * total]
        for frame, samples in telling[:top]:
            print(f"      {100 * samples / max(total, 1):5.1f} %  {frame}")


def rss_growth(window: Window, warmup: float) -> float:
    """RSS growth, in %, from the first sample after the warm-up to the last."""
    after = [mib for at, mib in window.rss if at >= warmup]
    return 100 * (after[-1] / after[0] - 1) if len(after) > 1 else 0.0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="500,2000,3000", help="offered probes/s, comma separated")
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--duration", type=float, default=45.0)
    parser.add_argument("--soak-rate", type=int, default=2000)
    parser.add_argument("--soak", type=float, default=600.0, help="the worker's window at --soak-rate")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--core", type=int, default=0, help="the core the bare loop and the worker run on")
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--pin-targets", action="store_true", help="pin the targets to the other cores")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy each run to PREFIX[-bare]-<rate>.txt")
    parser.add_argument("--https", action="store_true", help="TLS targets, a full handshake per probe")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),
        default=Settings().event_loop,
        help="the worker's event loop (default: the worker's default); the bare loop's is always asyncio",
    )
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    cores = os.sched_getaffinity(0)
    core: int | None = arguments.core if len(cores) > 1 else None
    # Left to float by default: pinned to the other core, a loaded machine starves them (and with them
    # the prober, which then waits on its probe slots rather than on its CPU).
    target_cores = cores - {core} if core is not None and arguments.pin_targets else None
    interval = arguments.interval
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"load average {' / '.join(f'{load:.2f}' for load in os.getloadavg())}; prober on core {core}, "
        f"{arguments.targets} target processes on cores {sorted(target_cores or cores)}; "
        f"{arguments.database}; the worker on {arguments.event_loop}, the bare loop on asyncio"
        f"{' over HTTPS' if arguments.https else ''}"
    )
    ratios: list[str] = []
    server_tls, client_tls = throwaway_tls() if arguments.https else (None, None)
    with target_processes(arguments.targets, target_cores, server_tls) as (port, target_pids):
        target = Target(port, client_tls)
        for rate in (int(rate) for rate in arguments.rates.split(",")):
            servers = rate * interval
            duration = (
                arguments.soak if rate == arguments.soak_rate and arguments.soak else arguments.duration
            )
            print(f"\n{rate} probes/s offered: {servers} servers every {interval} s")
            bare = worker = None
            if not arguments.skip_bare:
                bare = in_pinned_process(
                    core,
                    target_pids,
                    run_bare_loop,
                    (target, servers, interval, arguments.warmup, arguments.duration),
                    profile=f"{arguments.profile}-bare-{rate}.txt" if arguments.profile else None,
                )
                _print_window("bare aiohttp loop (no database)", bare, interval)
                if arguments.profile:
                    print_profile(f"{arguments.profile}-bare-{rate}.txt")
            if not arguments.skip_worker:
                with migrated_database(arguments.database) as url:
                    register(url, target, servers, interval)
                    worker = in_pinned_process(
                        core,
                        target_pids,
                        run_worker,
                        (url, arguments.warmup, duration, client_tls),
                        profile=f"{arguments.profile}-{rate}.txt" if arguments.profile else None,
                        loop=arguments.event_loop,
                    )
                    stored_history(url, interval, worker)
                _print_window(f"healthmon worker ({duration:g} s window)", worker, interval)
                if arguments.profile:
                    print_profile(f"{arguments.profile}-{rate}.txt")
                # A new fleet turns healthy all at once at its HEALTHY_AFTER-th probes (a health
                # event per server within one interval): RSS steps up there once, then holds.
                settled = (HEALTHY_AFTER + 1) * interval
                growth = f"    RSS growth after the warm-up: {rss_growth(worker, arguments.warmup):+.1f} %"
                if arguments.warmup + duration >= settled + 60:
                    growth += (
                        f"; after every server's first health state (from {settled} s): "
                        f"{rss_growth(worker, settled):+.1f} %"
                    )
                print(growth)
            if bare and worker:
                ratio = (worker.cpu / max(worker.probes, 1)) / (bare.cpu / max(bare.probes, 1))
                ratios.append(f"{rate}/s: {ratio:.2f}")
                print(f"  CPU per probe, worker / bare loop: {ratio:.2f}")
    print(f"\nCPU per probe ratios (worker / bare loop): {', '.join(ratios)}")
    print(f"load average at the end {' / '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
