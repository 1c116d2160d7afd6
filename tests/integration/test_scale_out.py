"""Several `healthmon worker` processes share the webservers through PostgreSQL leases.

Three workers (lease 3 s, refresh 0.2 s) watch 200 servers with intervals of 1 and 2 s, all paths
of one local target that notes when each path is hit. The target's hit times are the truth: each
path is hit once per interval (no duplicate: no two hits closer than half an interval, see
history_checks.shortest_gap; no gap over interval + 0.6 s in steady state), whoever holds it, while
workers are killed, stopped and started; the stored history has each slot once, and health is its replay.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.domain.webserver import Webserver, WebserverSettings
from tests.integration.conftest import scratch_database
from tests.integration.history_checks import assert_history_is_the_truth, shortest_gap
from tests.integration.service import (
    HitLog,
    ServiceProcess,
    ServiceRunner,
    run_db_upgrade,
    service_runner,
)
from tests.waiting import eventually_sync

pytestmark = pytest.mark.postgres

SERVERS = 200
WORKERS = 3
LEASE = 3.0
# Workers beat, claim and hand back three times a lease.
HEARTBEAT = LEASE / 3
WORKER_SETTINGS = {"lease_seconds": str(LEASE), "max_probes_per_host": "100", "shutdown_grace_seconds": "2"}
# How much later than its interval a hit may come in steady state.
LATE = 0.6
# A killed worker's servers wait for its lease to expire after its last beat, then for the next
# heartbeat of a survivor, on a machine busy with three workers and the target.
TAKEOVER_MARGIN = HEARTBEAT + 1.0


class Cluster:
    """The database, the target, the servers and the worker processes of one test."""

    def __init__(self, database_url: str, target: HitLog, runner: ServiceRunner) -> None:
        self.database_url = database_url
        self.target = target
        self.runner = runner
        self.engine = create_database_engine(database_url, pool_size=2)
        self.sessions = create_session_factory(self.engine)
        self.workers: list[ServiceProcess] = []
        self.servers: list[Webserver] = []

    def register(self) -> None:
        with SqlAlchemyUnitOfWork(self.sessions) as uow:
            for n in range(SERVERS):
                interval = 1 if n % 3 == 0 else 2
                url = self.target.url(f"/s/{n}")
                settings = WebserverSettings(name=f"s{n}", url=url, interval_seconds=interval)
                self.servers.append(uow.webservers.add(settings, datetime.now(UTC)))
            uow.commit()
        # Every fifth target fails, so health counters count failures too.
        for n in range(0, SERVERS, 5):
            self.target.respond(f"/s/{n}", 500)

    def start_worker(self) -> ServiceProcess:
        worker = self.runner.worker(self.database_url, **WORKER_SETTINGS)
        self.workers.append(worker)
        return worker

    def holdings(self) -> dict[int, int]:
        """How many servers each live worker holds, by pid."""
        with SqlAlchemyUnitOfWork(self.sessions) as uow:
            live = uow.workers.live(timedelta(seconds=LEASE))
            return {
                worker.pid: len(uow.webservers.list(limit=SERVERS + 1, owner=worker.id)) for worker in live
            }

    def held_by(self, worker: ServiceProcess) -> set[str]:
        """The paths of the servers a worker holds."""
        with SqlAlchemyUnitOfWork(self.sessions) as uow:
            (live,) = [one for one in uow.workers.live(timedelta(seconds=LEASE)) if one.pid == worker.pid]
            return {path_of(server) for server in uow.webservers.list(limit=SERVERS + 1, owner=live.id)}

    def wait_for_even_split(self, workers: list[ServiceProcess], within: float) -> None:
        pids = {worker.pid for worker in workers}
        fair = SERVERS / len(workers)

        def even() -> bool:
            held = self.holdings()
            return (
                set(held) == pids
                and sum(held.values()) == SERVERS
                and all(abs(count - fair) <= 0.2 * fair for count in held.values())
            )

        eventually_sync(even, within=within, what=f"{SERVERS} servers split evenly over pids {sorted(pids)}")

    def wait_until_probed(self, paths: set[str], *, after: float) -> None:
        """Wait until every one of these paths has been hit since `after`."""
        eventually_sync(
            lambda: all(self.target.times(path, after) for path in paths),
            within=LEASE + 5,
            what=f"{len(paths)} servers to be probed",
        )

    def assert_no_duplicates(self, since: float) -> None:
        """No two hits of a server closer than shortest_gap (no slot probed twice), from `since` on."""
        for server in self.servers:
            hits = self.target.times(path_of(server), since)
            gaps = [later - earlier for earlier, later in itertools.pairwise(hits)]
            assert min(gaps, default=99.0) >= shortest_gap(server.settings.interval_seconds), (
                path_of(server),
                gaps,
            )

    def largest_gap(self, server: Webserver, since: float, until: float, *, from_last_hit: bool) -> float:
        """The longest time without a hit of the server within [since, until].

        from_last_hit: count the first gap from the last hit before `since`, not from `since`.
        """
        hits = [moment for moment in self.target.times(path_of(server)) if moment <= until]
        marks = [since, *(moment for moment in hits if moment >= since), until]
        before = [moment for moment in hits if moment < since]
        if before and from_last_hit:
            marks[0] = before[-1]
        return max(later - earlier for earlier, later in itertools.pairwise(marks))

    def close(self) -> None:
        for worker in self.workers:
            if worker.running:
                worker.process.send_signal(signal.SIGCONT)  # a stopped process cannot take SIGTERM
        self.engine.dispose()


def path_of(server: Webserver) -> str:
    return "/" + server.settings.url.split("/", 3)[3]


@pytest.fixture
def cluster(request: pytest.FixtureRequest, postgres_admin_url: URL, tmp_path: Path) -> Iterator[Cluster]:
    """A migrated scratch database with 200 servers on one target, and no worker yet."""
    with (
        scratch_database(postgres_admin_url, "healthmon_scale") as url,
        HitLog() as target,
        service_runner(request, tmp_path) as runner,
    ):
        rendered = url.render_as_string(hide_password=False)
        run_db_upgrade(rendered)
        built = Cluster(rendered, target, runner)
        try:
            built.register()
            yield built
        finally:
            built.close()


def steady_window(cluster: Cluster, seconds: float) -> None:
    """Watch every server for a while: each must be hit at least once per interval (plus LATE)."""
    since = time.monotonic()
    time.sleep(seconds)  # an observation window: the assertion is about what happens within it
    until = time.monotonic()
    for server in cluster.servers:
        gap = cluster.largest_gap(server, since, until, from_last_hit=False)
        hits = [round(moment - since, 2) for moment in cluster.target.times(path_of(server), since - 4)]
        assert gap <= server.settings.interval_seconds + LATE, (path_of(server), gap, hits)


def test_workers_share_the_servers_and_take_over_from_killed_and_stopped_ones(cluster: Cluster) -> None:
    workers = [cluster.start_worker() for _ in range(WORKERS)]
    cluster.wait_for_even_split(workers, within=20)
    # Seen from the target, the first hits of each server come late by as much as the connection
    # burst of a worker's first second costs (half a second on a loaded machine), which makes the
    # hand-overs of the first split look early there: they are judged by the stored start times.
    split_at = time.monotonic()
    steady_window(cluster, 4)

    # SIGKILL: the others take its servers once its lease expires.
    killed, *survivors = workers
    orphans = cluster.held_by(killed)
    killed.process.kill()
    killed.wait()
    died = time.monotonic()
    cluster.wait_for_even_split(survivors, within=LEASE + 5)
    cluster.wait_until_probed(orphans, after=died)
    for server in cluster.servers:
        if path_of(server) in orphans:
            gap = cluster.largest_gap(server, died, time.monotonic(), from_last_hit=True)
            assert gap <= server.settings.interval_seconds + LEASE + TAKEOVER_MARGIN, (path_of(server), gap)

    # SIGTERM: the worker hands its servers back as it stops; the last one takes them at once.
    stopped, last = survivors
    handed_back = time.monotonic()
    stopped.terminate()
    cluster.wait_for_even_split([last], within=HEARTBEAT + 1.0)
    assert stopped.wait() == 0
    assert time.monotonic() - handed_back < LEASE
    steady_window(cluster, 3)

    # A new worker: the load spreads again, without restarting the one that runs.
    again = cluster.start_worker()
    cluster.wait_for_even_split([last, again], within=15)
    steady_window(cluster, 3)
    cluster.assert_no_duplicates(since=split_at)
    for worker in (last, again):
        assert worker.stop() == 0
    assert_history_is_the_truth(SqlAlchemyUnitOfWork(cluster.sessions), cluster.servers)


def test_a_paused_worker_records_no_stale_probe_and_health_stays_consistent(cluster: Cluster) -> None:
    workers = [cluster.start_worker() for _ in range(WORKERS)]
    cluster.wait_for_even_split(workers, within=20)
    paused, *others = workers
    taken_over = cluster.held_by(paused)
    paused.process.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    cluster.wait_for_even_split(others, within=LEASE + 5)
    cluster.wait_until_probed(taken_over, after=stopped_at)
    paused.process.send_signal(signal.SIGCONT)
    resumed_at = time.monotonic()
    cluster.wait_for_even_split(workers, within=15)
    # The resumed worker probes what it holds again, so its results race the others' history.
    cluster.wait_until_probed(cluster.held_by(paused), after=resumed_at)
    for worker in workers:
        assert worker.stop() == 0

    assert_history_is_the_truth(SqlAlchemyUnitOfWork(cluster.sessions), cluster.servers)
