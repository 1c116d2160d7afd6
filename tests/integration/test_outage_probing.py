"""`healthmon worker` on PostgreSQL goes on probing through a database outage, and fencing keeps health right.

Workers reach PostgreSQL through a TcpProxy the test cuts; their targets are paths of one local
HitLog, whose hit times are the truth about probing. The stored history is the truth about what
was recorded: one probe per slot, and health its replay.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.domain.webserver import Webserver, WebserverSettings
from tests.integration.conftest import scratch_database
from tests.integration.history_checks import assert_history_is_the_truth
from tests.integration.service import HitLog, ServiceProcess, ServiceRunner, run_db_upgrade, service_runner
from tests.integration.tcp_proxy import TcpProxy
from tests.waiting import eventually_sync

pytestmark = pytest.mark.postgres

SERVERS = 20
LEASE = 3.0
WORKER_SETTINGS = {"lease_seconds": str(LEASE), "shutdown_grace_seconds": "2"}
# The figure: a database away for a minute, as in a failover or a maintenance.
OUTAGE_SECONDS = 60.0
# The longest a target may wait past its interval, outage or not.
LATE = 1.0
FENCED_LINE = re.compile(r"dropped (\d+) results taken under a lease another worker has taken over since")


@dataclass
class Setup:
    """A migrated scratch database with SERVERS servers on one target, and a proxy in front of it."""

    direct_url: str
    proxied_url: str
    proxy: TcpProxy
    target: HitLog
    runner: ServiceRunner
    servers: list[Webserver]

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._sessions)

    def __post_init__(self) -> None:
        self._engine = create_database_engine(self.direct_url, pool_size=2)
        self._sessions = create_session_factory(self._engine)

    def register(self) -> None:
        with self.uow() as uow:
            for n in range(SERVERS):
                url = self.target.url(f"/s/{n}")
                settings = WebserverSettings(name=f"s{n}", url=url, interval_seconds=1 if n % 3 == 0 else 2)
                self.servers.append(uow.webservers.add(settings, datetime.now(UTC)))
            uow.commit()
        # Every fifth target fails, so the health counters count failures too.
        for n in range(0, SERVERS, 5):
            self.target.respond(f"/s/{n}", 500)

    def owners(self) -> set[int | None]:
        """Who holds the servers, by worker pid (None: not held, or held by a worker not live)."""
        with self.uow() as uow:
            holder = {
                webserver_id: worker.pid
                for worker in uow.workers.live(timedelta(seconds=LEASE))
                for webserver_id in uow.workers.held(worker.id)
            }
        return {holder.get(server.id) for server in self.servers}

    def hits(self) -> int:
        return sum(len(self.target.times(path_of(server))) for server in self.servers)

    def stored(self) -> int:
        with self.uow() as uow:
            return sum(len(uow.probe_results.history(server.id, limit=10_000)) for server in self.servers)

    def wait_until_each_probed(self, times: int, *, within: float) -> None:
        eventually_sync(
            lambda: all(len(self.target.times(path_of(server))) >= times for server in self.servers),
            within=within,
            what=f"every server probed {times} times",
        )

    def close(self) -> None:
        self._engine.dispose()


def path_of(server: Webserver) -> str:
    return "/" + server.settings.url.split("/", 3)[3]


@pytest.fixture
def setup(request: pytest.FixtureRequest, postgres_admin_url: URL, tmp_path: Path) -> Iterator[Setup]:
    with (
        scratch_database(postgres_admin_url, "healthmon_fencing") as url,
        TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy,
        HitLog() as target,
        service_runner(request, tmp_path) as runner,
    ):
        direct = url.render_as_string(hide_password=False)
        run_db_upgrade(direct)
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        built = Setup(direct, proxied, proxy, target, runner, [])
        try:
            built.register()
            yield built
        finally:
            built.close()


def fenced_in(worker: ServiceProcess) -> int:
    """How many results the worker logged as fenced off."""
    return sum(int(count) for count in FENCED_LINE.findall(worker.log()))


def test_a_minute_long_database_outage_skips_no_probe_and_loses_no_result(setup: Setup) -> None:
    worker = setup.runner.worker(setup.proxied_url, **WORKER_SETTINGS)
    setup.wait_until_each_probed(2, within=20)

    setup.proxy.cut()
    cut_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)  # the outage itself: the assertions are about what the target saw in it
    setup.proxy.restore()
    restored_at = time.monotonic()
    # Every result of the outage is written once the database is back.
    eventually_sync(lambda: setup.stored() >= setup.hits() - SERVERS, within=30, what="the backlog stored")
    assert worker.stop() == 0

    for server in setup.servers:
        hits = setup.target.times(path_of(server))
        before = [moment for moment in hits if moment < cut_at]
        window = [before[-1], *(moment for moment in hits if cut_at <= moment <= restored_at), restored_at]
        gap = max(later - earlier for earlier, later in itertools.pairwise(window))
        assert gap <= server.settings.interval_seconds + LATE, (path_of(server), gap)
    # Every probe that reached a target is in its history, and health is the replay of that history.
    assert assert_history_is_the_truth(setup.uow(), setup.servers) == setup.hits()
    assert fenced_in(worker) == 0
    assert "probing goes on and results wait in memory" in worker.log()


def test_a_partitioned_worker_s_results_after_the_takeover_are_fenced_off(setup: Setup) -> None:
    cut_off = setup.runner.worker(setup.proxied_url, **WORKER_SETTINGS)
    eventually_sync(lambda: setup.owners() == {cut_off.pid}, within=20, what="the first worker to hold all")
    setup.wait_until_each_probed(2, within=10)

    setup.proxy.cut()
    other = setup.runner.worker(setup.direct_url, **WORKER_SETTINGS)
    # Once the cut-off worker's lease expires, the other one takes every server over.
    eventually_sync(lambda: setup.owners() == {other.pid}, within=LEASE + 15, what="the takeover")
    taken_at = time.monotonic()
    # Both probe now: the cut-off worker cannot know it lost its servers. Its results are taken
    # under the old epochs, which the takeover moved on.
    eventually_sync(
        lambda: all(len(setup.target.times(path_of(server), taken_at)) >= 4 for server in setup.servers),
        within=15,
        what="both workers probing every server during the partition",
    )
    setup.proxy.restore()

    eventually_sync(lambda: fenced_in(cut_off) > 0, within=20, what="the cut-off worker's results fenced off")
    eventually_sync(
        lambda: setup.owners() == {cut_off.pid, other.pid}, within=20, what="the two workers to share"
    )
    assert cut_off.stop() == 0
    assert other.stop() == 0

    # No slot is stored twice and no stale probe over a newer one, so none of the cut-off worker's
    # results after the takeover (each one a second probe of a slot the other worker took) landed;
    # health is the replay of the history.
    stored = assert_history_is_the_truth(setup.uow(), setup.servers)
    # Every hit is accounted for: stored, or fenced off (and counted in the cut-off worker's log).
    fenced = fenced_in(cut_off)
    assert stored + fenced == setup.hits(), (stored, fenced, setup.hits())
    # From its cut to the takeover (a lease at least) it probed every server at least once.
    assert fenced >= SERVERS, fenced
    assert fenced_in(other) == 0
